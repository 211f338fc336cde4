"""The built-in simulator: a console user chats as a made-up worker, through the real pipeline."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping

from bots.base import ChannelBase, InboundMessage, Malformed, Outgoing, load_json


def simulator_payload(chat: str, text: str, language: str | None = None) -> bytes:
    """Build what the simulator page posts: one message from a simulated chat."""
    return json.dumps(
        {"id": str(uuid.uuid4()), "chat": chat, "text": text, "language": language},
        ensure_ascii=False,
    ).encode("utf-8")


class SimulatorChannel(ChannelBase):
    name = "simulator"

    def __init__(self, record_reply: Callable[[str, str], None]) -> None:
        # The simulator has no provider to deliver to; the reply is kept for its page.
        self._record_reply = record_reply

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """The console checks the user's session before it posts here."""

    def envelope_key(self, payload: bytes) -> str:
        data = load_json(payload)
        if not isinstance(data.get("id"), str) or not isinstance(data.get("chat"), str):
            raise Malformed("a simulator message has an id and a chat")
        return str(data["id"])

    def parse(self, payload: bytes) -> InboundMessage | None:
        data = load_json(payload)
        text = data.get("text")
        return InboundMessage(
            channel=self.name,
            provider_message_id=data["id"],
            address=data["chat"],
            kind="text",
            text=text if isinstance(text, str) else None,
            language_hint=data.get("language"),
        )

    def send(self, address: str, message: Outgoing) -> str:
        lines = [message.text]
        lines += [f"{n}. {label}" for n, label in enumerate(message.options, start=1)]
        self._record_reply(address, "\n".join(lines))
        return f"sim-{uuid.uuid4()}"
