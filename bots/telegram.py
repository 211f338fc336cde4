"""Telegram: verify the webhook secret, parse updates, send replies with python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden as TelegramForbidden
from telegram.request import HTTPXRequest

from bots.base import Forbidden, InboundMessage, Malformed, Outgoing, Unreachable, load_json
from safeguards.passwords import same_secret

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# What a non-text message is stored as when it has no caption.
_MEDIA_KINDS = (
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "document",
    "sticker",
    "location",
    "contact",
)


class TelegramChannel:
    name = "telegram"

    def __init__(self, bot_token: str, webhook_secret: str, api_base: str) -> None:
        self._token = bot_token
        self._secret = webhook_secret
        self._api_base = api_base.rstrip("/")

    def __repr__(self) -> str:
        return f"<TelegramChannel {self._api_base}>"

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        if not same_secret(self._secret, headers.get(SECRET_HEADER)):
            raise Forbidden("Telegram secret token does not match")

    def envelope_key(self, payload: bytes) -> str:
        update = load_json(payload)
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise Malformed("a Telegram update has an integer update_id")
        return str(update_id)

    def parse(self, payload: bytes) -> InboundMessage | None:
        update = load_json(payload)
        edited = "edited_message" in update
        message = update.get("message") or update.get("edited_message")
        if isinstance(message, dict):
            return self._parse_message(update, message, edited)
        callback = update.get("callback_query")
        if isinstance(callback, dict) and isinstance(callback.get("message"), dict):
            chat = callback["message"].get("chat") or {}
            if chat.get("type", "private") != "private":
                return None
            return InboundMessage(
                channel=self.name,
                provider_message_id=f"cb:{callback.get('id')}",
                address=str(chat.get("id")),
                kind="text",
                text=str(callback.get("data") or ""),
                language_hint=(callback.get("from") or {}).get("language_code"),
            )
        return None  # chat member changes and the like carry no message

    def _parse_message(
        self, update: dict[str, Any], message: dict[str, Any], edited: bool
    ) -> InboundMessage | None:
        chat = message.get("chat")
        if not isinstance(chat, dict) or "id" not in chat:
            raise Malformed("a Telegram message has a chat")
        if chat.get("type", "private") != "private":
            # Never answer in a group: others would see the worker talk to us.
            return None
        kind = (
            "text"
            if "text" in message
            else next((k for k in _MEDIA_KINDS if k in message), "other")
        )
        text = message.get("text") or message.get("caption")
        sent = message.get("edit_date") if edited else message.get("date")
        return InboundMessage(
            channel=self.name,
            provider_message_id=str(message.get("message_id", update["update_id"])),
            address=str(chat["id"]),
            kind="edit" if edited else kind,
            text=text if isinstance(text, str) else None,
            language_hint=(message.get("from") or {}).get("language_code"),
            sent_at=dt.datetime.fromtimestamp(sent, dt.UTC) if isinstance(sent, int) else None,
            edit_of=str(message.get("message_id")) if edited else None,
        )

    def send(self, address: str, message: Outgoing) -> str:
        return asyncio.run(self._send(address, message))

    async def _send(self, address: str, message: Outgoing) -> str:
        markup = None
        if message.options:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(label, callback_data=str(number))]
                    for number, label in enumerate(message.options, start=1)
                ]
            )
        request = HTTPXRequest(connect_timeout=10, read_timeout=20)
        bot = Bot(self._token, base_url=f"{self._api_base}/bot", request=request)
        try:
            async with bot:
                sent = await bot.send_message(
                    chat_id=int(address), text=message.text, reply_markup=markup
                )
        except TelegramForbidden as exc:
            raise Unreachable("the worker blocked the bot") from exc
        return str(sent.message_id)
