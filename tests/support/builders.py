"""Builders for provider payloads."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

_update_ids = itertools.count(500_000_001)
_message_ids = itertools.count(1)


def telegram_update(
    chat_id: int,
    text: str | None = "hello",
    *,
    update_id: int | None = None,
    language_code: str | None = None,
    extra: dict[str, Any] | None = None,
    edited: bool = False,
    chat_type: str = "private",
) -> dict[str, Any]:
    """A Telegram Bot API update carrying one private-chat message."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": chat_type, "first_name": "Worker"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Worker"},
    }
    if language_code:
        message["from"]["language_code"] = language_code
    if text is not None:
        message["text"] = text
    message.update(extra or {})
    if edited:
        message["edit_date"] = int(time.time())
    return {
        "update_id": update_id if update_id is not None else next(_update_ids),
        "edited_message" if edited else "message": message,
    }


def as_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
