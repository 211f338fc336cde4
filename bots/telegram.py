"""Telegram: verify the webhook secret, parse updates, send replies with python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.error import Forbidden as TelegramForbidden
from telegram.request import HTTPXRequest

from bots.base import (
    ChannelBase,
    Forbidden,
    InboundMessage,
    Malformed,
    Media,
    MediaRef,
    Outgoing,
    Permanent,
    Retryable,
    Unreachable,
    ident,
    load_json,
    obj,
    string,
)
from safeguards.passwords import same_secret

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# What a non-text message is stored as when it has no caption.
_MEDIA_KINDS = ("photo", "voice", "audio", "video", "video_note", "document", "sticker",
                "location", "contact")  # fmt: skip
# The ones whose file is worth keeping (a sticker says nothing a caseworker needs).
_DOWNLOADED = ("photo", "voice", "audio", "video", "video_note", "document")
_DEFAULT_TYPES = {"photo": "image/jpeg", "voice": "audio/ogg", "video": "video/mp4",
                  "video_note": "video/mp4", "audio": "audio/mpeg"}  # fmt: skip


def _media_of(message: dict[str, Any]) -> tuple[MediaRef, ...]:
    for kind in _DOWNLOADED:
        item = message.get(kind)
        if kind == "photo" and isinstance(item, list) and item:
            item = item[-1]  # the largest size Telegram offers
        if isinstance(item, dict) and string(item.get("file_id")):
            return (MediaRef(item["file_id"], kind, string(item.get("mime_type"))),)
    return ()


def _private(chat: dict[str, Any]) -> bool:
    """A chat with the worker alone (a chat that names no type is taken as one)."""
    return bool(chat.get("type", "private") == "private")


def _chat_id(chat: dict[str, Any]) -> str:
    found = ident(chat.get("id"))
    if found is None:
        raise Malformed("a Telegram message has a chat")
    return found


def _moment(seconds: Any) -> dt.datetime | None:
    """A Unix time from Telegram, or None when it is not one any calendar holds."""
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _send_error(exc: Exception) -> Exception:
    """Sort Telegram's errors: blocked, wait and retry, or give up."""
    if isinstance(exc, TelegramForbidden):
        return Unreachable("the worker blocked the bot")
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PTB 22 warns while it moves to timedelta
            wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
        return Retryable("Telegram asked us to slow down", seconds)
    if isinstance(exc, BadRequest):
        return Permanent(f"Telegram refused the message: {exc.message}")
    if isinstance(exc, NetworkError):  # timeouts and Telegram's 5xx too
        return Retryable(f"Telegram unreachable: {type(exc).__name__}")
    if isinstance(exc, TelegramError):
        return Permanent(f"Telegram error: {exc.message}")
    return Retryable(f"unexpected {type(exc).__name__}")


class TelegramChannel(ChannelBase):
    name = "telegram"

    def __init__(self, bot_token: str, webhook_secret: str, api_base: str) -> None:
        self._token = bot_token
        self._secret = webhook_secret
        self._api_base = api_base.rstrip("/")
        self._kept = threading.local()

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
        callback = obj(update.get("callback_query"))
        if isinstance(callback.get("message"), dict):
            chat = obj(callback["message"].get("chat"))
            if not _private(chat):
                return None
            return InboundMessage(
                channel=self.name,
                provider_message_id=f"cb:{ident(callback.get('id'))}",
                address=_chat_id(chat),
                kind="text",
                text=string(callback.get("data")) or "",
                language_hint=string(obj(callback.get("from")).get("language_code")),
            )
        member = update.get("my_chat_member")
        if isinstance(member, dict):
            return self._parse_membership(update, member)
        return None

    def _parse_membership(
        self, update: dict[str, Any], member: dict[str, Any]
    ) -> InboundMessage | None:
        """The worker blocked or unblocked the bot: stop or resume writing to them."""
        chat = obj(member.get("chat"))
        status = obj(member.get("new_chat_member")).get("status")
        if not _private(chat) or status not in ("kicked", "member"):
            return None
        return InboundMessage(
            channel=self.name,
            provider_message_id=f"member:{update['update_id']}",
            address=_chat_id(chat),
            kind="event",
            event="opt_out" if status == "kicked" else "opt_in",
        )

    def _parse_message(
        self, update: dict[str, Any], message: dict[str, Any], edited: bool
    ) -> InboundMessage | None:
        chat = obj(message.get("chat"))
        if not _private(chat):
            # Never answer in a group: others would see the worker talk to us.
            return None
        kind = (
            "text"
            if "text" in message
            else next((k for k in _MEDIA_KINDS if k in message), "other")
        )
        text = string(message.get("text")) or string(message.get("caption"))
        sent = message.get("edit_date") if edited else message.get("date")
        message_id = ident(message.get("message_id"))
        return InboundMessage(
            channel=self.name,
            provider_message_id=message_id or str(update["update_id"]),
            address=_chat_id(chat),
            kind="edit" if edited else kind,
            text=text,
            language_hint=string(obj(message.get("from")).get("language_code")),
            sent_at=_moment(sent),
            edit_of=message_id if edited else None,
            media=_media_of(message),
        )

    def _bot(self) -> Bot:
        return Bot(
            self._token,
            base_url=f"{self._api_base}/bot",
            base_file_url=f"{self._api_base}/file/bot",
            request=HTTPXRequest(connect_timeout=10, read_timeout=30),
        )

    def _run(self, call: Callable[[Bot], Awaitable[_T]]) -> _T:
        """Run one Bot API call on this thread's own event loop and initialised Bot.

        A Bot made per call cost a new event loop, two HTTP clients and a getMe round
        trip for every message sent: most of a worker's time at a few hundred replies
        a minute. Each thread keeps one of each instead (a worker's rq jobs and its
        intake thread each have theirs); a Bot whose start failed is not kept.
        """
        kept = self._kept
        if getattr(kept, "loop", None) is None:
            kept.loop = asyncio.new_event_loop()
        loop: asyncio.AbstractEventLoop = kept.loop
        if getattr(kept, "bot", None) is None:
            bot = self._bot()
            loop.run_until_complete(bot.initialize())
            kept.bot = bot
        return loop.run_until_complete(call(kept.bot))

    def warm_up(self) -> None:
        """Start this thread's Bot now, so the first send after a rate slot is not late."""
        try:
            self._run(lambda bot: asyncio.sleep(0))
        except Exception as exc:  # noqa: BLE001 - Telegram down at start: the first send retries
            logger.warning("Telegram not reachable at start: %s", type(exc).__name__)

    def close(self) -> None:
        """Let go of this thread's Bot and event loop."""
        kept = self._kept
        loop, bot = getattr(kept, "loop", None), getattr(kept, "bot", None)
        kept.loop = kept.bot = None
        if loop is not None:
            if bot is not None:
                loop.run_until_complete(bot.shutdown())
            loop.close()

    def send(self, address: str, message: Outgoing) -> str:
        markup = None
        if message.options:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(label, callback_data=str(number))]
                    for number, label in enumerate(message.options, start=1)
                ]
            )
        try:
            sent = self._run(
                lambda bot: bot.send_message(
                    chat_id=int(address), text=message.text, reply_markup=markup
                )
            )
        except Exception as exc:
            raise _send_error(exc) from exc
        return str(sent.message_id)

    def acknowledge(self, inbound: InboundMessage) -> None:
        """Stop the spinner on a pressed button (answerCallbackQuery)."""
        if inbound.provider_message_id.startswith("cb:"):
            try:
                callback_id = inbound.provider_message_id[3:]
                self._run(lambda bot: bot.answer_callback_query(callback_id))
            except TelegramError as exc:
                logger.warning("could not answer a button press: %s", type(exc).__name__)

    def set_webhook(self, url: str) -> None:
        """Register our webhook and its secret token with Telegram (`voicedesk webhooks set`)."""
        asyncio.run(self._set_webhook(url))

    async def _set_webhook(self, url: str) -> None:
        async with self._bot() as bot:
            await bot.set_webhook(
                url=url,
                secret_token=self._secret,
                allowed_updates=["message", "edited_message", "callback_query", "my_chat_member"],
            )

    def fetch_media(self, media: MediaRef, max_bytes: int) -> Media:
        async def fetch(bot: Bot) -> bytes:
            file = await bot.get_file(media.ref)
            if file.file_size and file.file_size > max_bytes:
                raise Permanent(f"{media.kind} of {file.file_size} bytes is over the limit")
            return bytes(await file.download_as_bytearray())

        try:
            content = self._run(fetch)
        except Permanent:
            raise
        except Exception as exc:
            raise _send_error(exc) from exc
        if len(content) > max_bytes:
            raise Permanent(f"{media.kind} of {len(content)} bytes is over the limit")
        content_type = media.content_type or _DEFAULT_TYPES.get(
            media.kind, "application/octet-stream"
        )
        return Media(content, content_type, media.kind)
