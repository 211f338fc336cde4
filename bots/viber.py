"""Viber: the REST bot API. Callbacks are signed with HMAC-SHA256 of the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

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
    StatusUpdate,
    Unreachable,
    ident,
    load_json,
    obj,
    string,
)
from bots.http import download, raise_for_send
from intake.settings import ViberSettings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Viber-Content-Signature"
_KINDS = {"text": "text", "picture": "photo", "video": "video", "file": "document",
          "sticker": "sticker", "location": "location", "contact": "contact",
          "url": "text"}  # fmt: skip
# Viber's send_message status codes: https://developers.viber.com/docs/api/rest-bot-api/
# 5 receiverNotRegistered, 6 notSubscribed, 11 receiverNoSuitableDevice: the worker.
_NOT_SUBSCRIBED = {5, 6, 11}
# 12 tooManyRequests and 13 apiVersionNotSupported-style hiccups: try again later.
# 7 publicAccountBlocked, 8 publicAccountNotFound, 9 suspended, 10 webhookNotSet and
# 1, 2, 3 (url, token, data) are ours to fix: permanent, and never the worker's fault.
_RETRYABLE = {12}
_STATUS = {"delivered": "delivered", "seen": "read", "failed": "failed"}


def keyboard(options: tuple[str, ...]) -> dict[str, Any]:
    """A reply keyboard: each button sends back its number."""
    return {
        "Type": "keyboard",
        "DefaultHeight": False,
        "Buttons": [
            {"ActionType": "reply", "ActionBody": str(number), "Text": label, "Columns": 6,
             "Rows": 1, "Silent": False}
            for number, label in enumerate(options, start=1)
        ],
    }  # fmt: skip


class ViberChannel(ChannelBase):
    name = "viber"

    def __init__(self, settings: ViberSettings, welcome: Outgoing) -> None:
        self._settings = settings
        self._welcome = welcome

    def __repr__(self) -> str:
        return f"<ViberChannel {self._settings.api_base}>"

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        given = headers.get(SIGNATURE_HEADER) or ""
        expected = hmac.new(self._settings.auth_token.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given.lower()):
            raise Forbidden("Viber signature does not match")

    def _event(self, payload: bytes) -> dict[str, Any]:
        data = load_json(payload)
        if not isinstance(data.get("event"), str):
            raise Malformed("a Viber callback names its event")
        return data

    def envelope_key(self, payload: bytes) -> str:
        data = self._event(payload)
        token = ident(data.get("message_token"))
        if token is None:
            raise Malformed("a Viber callback has a message_token")
        return f"{data['event']}:{token}"

    def instant_reply(self, payload: bytes) -> dict[str, Any] | None:
        data = self._event(payload)
        if data["event"] == "webhook":
            return {}  # Viber checking the URL while `webhooks set` registers it
        if data["event"] != "conversation_started":
            return None
        # Sent in the response body: the only message Viber lets a bot send before the
        # worker subscribes. Nothing of theirs is stored until they write.
        reply: dict[str, Any] = {
            "sender": {"name": self._settings.sender_name},
            "type": "text",
            "text": self._welcome.text,
        }
        if self._welcome.options:
            reply["keyboard"] = keyboard(self._welcome.options)
        return reply

    def status_update(self, payload: bytes) -> StatusUpdate | None:
        data = self._event(payload)
        status = _STATUS.get(data["event"])
        if status is None:
            return None
        return StatusUpdate(
            provider_message_id=str(ident(data.get("message_token"))),
            status=status,
            error=string(data.get("desc")) if status == "failed" else None,
        )

    def parse(self, payload: bytes) -> InboundMessage | None:
        data = self._event(payload)
        event = data["event"]
        token = str(ident(data.get("message_token")))
        if event == "unsubscribed" and ident(data.get("user_id")):
            return InboundMessage(
                channel=self.name,
                provider_message_id=token,
                address=str(ident(data["user_id"])),
                kind="event",
                event="opt_out",
            )
        subscriber = ident(obj(data.get("user")).get("id"))
        if event == "subscribed" and subscriber:
            return InboundMessage(
                channel=self.name,
                provider_message_id=token,
                address=subscriber,
                kind="event",
                event="opt_in",
            )
        if event != "message":
            return None
        sender = obj(data.get("sender"))
        message = data.get("message")
        address = ident(sender.get("id"))
        if address is None or not isinstance(message, dict):
            raise Malformed("a Viber message has a sender and a message")
        kind = _KINDS.get(str(message.get("type")), "other")
        # A shared link arrives as type "url" with the link in "media".
        media_link = string(message.get("media"))
        text = string(message.get("text"))
        media: tuple[MediaRef, ...] = ()
        if kind in {"photo", "video", "document"} and media_link:
            media = (MediaRef(media_link, kind, None),)
        return InboundMessage(
            channel=self.name,
            provider_message_id=token,
            address=address,
            kind=kind,
            text=(text or media_link) if kind == "text" else text,
            language_hint=string(sender.get("language")),
            media=media,
        )

    def forget_media(self, payload: bytes) -> bytes:
        data = load_json(payload)
        message = data.get("message")
        if isinstance(message, dict):
            for key in ("media", "thumbnail"):
                message.pop(key, None)
        return json.dumps(data, ensure_ascii=False).encode("utf-8")

    def fetch_media(self, media: MediaRef, max_bytes: int) -> Media:
        # Viber media links carry no credentials; never send ours with them.
        return download(media.ref, kind=media.kind, max_bytes=max_bytes)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = httpx.post(
                f"{self._settings.api_base}/pa/{path}",
                json=body,
                headers={"X-Viber-Auth-Token": self._settings.auth_token},
                timeout=20,
            )
        except httpx.TransportError as exc:
            raise Retryable(f"Viber unreachable: {type(exc).__name__}") from exc
        raise_for_send(response.status_code, response.headers, "Viber refused the request")
        try:
            answer = response.json()
        except ValueError as exc:
            raise Retryable("Viber answered with something that is not JSON") from exc
        status = int(answer.get("status", -1))
        if status == 0:
            return dict(answer)
        detail = f"Viber status {status}: {answer.get('status_message', '')}"
        if status in _NOT_SUBSCRIBED:
            raise Unreachable(detail)
        if status in _RETRYABLE:
            raise Retryable(detail)
        raise Permanent(detail)

    def send(self, address: str, message: Outgoing) -> str:
        body: dict[str, Any] = {
            "receiver": address,
            "min_api_version": 1,
            "sender": {"name": self._settings.sender_name},
            "type": "text",
            "text": message.text,
        }
        if message.options:
            body["keyboard"] = keyboard(message.options)
        return str(self._post("send_message", body)["message_token"])

    def set_webhook(self, url: str) -> dict[str, Any]:
        """Register our webhook with Viber (`voicedesk webhooks set`)."""
        return self._post(
            "set_webhook",
            {"url": url, "send_name": False, "send_photo": False,
             "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed",
                             "conversation_started"]},
        )  # fmt: skip
