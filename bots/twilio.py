"""Twilio: WhatsApp and SMS messaging, delivery callbacks, and the hotline's IVR.

Every Twilio callback is a form post signed with the account's auth token over the
URL Twilio called; `RequestValidator` from the twilio library checks it. Behind a
proxy the URL Twilio called is the public one, so we try PUBLIC_BASE_URL and the
URL the proxy's X-Forwarded-Proto/Host headers describe.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bots.base import (
    CallEvent,
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
    provider_id,
)
from bots.http import RETRYABLE_STATUS, download, retry_after_seconds
from intake.settings import TwilioSettings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio's standard opt-out and opt-in keywords (its Advanced Opt-Out sends OptOutType too).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
                        "REVOKE"})  # fmt: skip
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
# The worker unsubscribed or blocked us: write no more on that channel.
UNREACHABLE_CODES = frozenset({21610, 63024, 21614})
# Twilio status words, mapped to ours.
_STATUS = {"queued": "queued", "accepted": "queued", "sending": "queued", "sent": "sent",
           "delivered": "delivered", "read": "read", "failed": "failed",
           "undelivered": "failed"}  # fmt: skip


def form(payload: bytes) -> dict[str, str]:
    """Parse a Twilio form post; Twilio never repeats a field name."""
    return dict(_fields(payload))


@functools.lru_cache(maxsize=1)
def _fields(payload: bytes) -> tuple[tuple[str, str], ...]:
    # A webhook reads the same body up to six times (signature, status, key, parse...);
    # the last one parsed is kept, and only that one.
    try:
        return tuple(
            parse_qsl(payload.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        )
    except UnicodeDecodeError as exc:
        raise Malformed("a Twilio callback is form-encoded UTF-8") from exc


# Twilio ends every call after 4 hours.
MAX_CALL_SECONDS = 4 * 3600
# Twilio sends at most 10 files with one message.
MAX_MEDIA = 10
# An unrecorded send is looked for among the last LOOK_BACK messages to the worker,
# created no earlier than CLOCK_SKEW before we began it (Twilio's clock is not ours).
LOOK_BACK = 20
CLOCK_SKEW = dt.timedelta(minutes=5)


def _count(raw: str | None, most: int = 2**31 - 1) -> int | None:
    """A count as Twilio writes it (ASCII digits, at most `most`), or None.

    "³" and "١" are digits to Python, and 99999999999 fits no database integer.
    """
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    value = int(raw)
    return value if value <= most else None


def _media_count(raw: str | None) -> int:
    """NumMedia, at most MAX_MEDIA; 0 when it is not a count."""
    return min(_count(raw) or 0, MAX_MEDIA)


def _candidate_urls(headers: Mapping[str, str], url: str) -> list[str]:
    """The URLs Twilio may have signed: ours, and the one a proxy says it forwarded."""
    urls = [url]
    proto = headers.get("X-Forwarded-Proto")
    host = headers.get("X-Forwarded-Host")
    if proto or host:
        parts = urlsplit(url)
        forwarded = parts._replace(
            scheme=(proto or parts.scheme).split(",")[0].strip(),
            netloc=(host or parts.netloc).split(",")[0].strip(),
        ).geturl()
        urls.append(forwarded)
    return urls


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's HTTP client, keeping the last response so a 429's Retry-After can be read."""

    last_response: TwilioResponse | None = None

    def request(self, *args: Any, **kwargs: Any) -> TwilioResponse:
        self.last_response = None
        self.last_response = super().request(*args, **kwargs)
        return self.last_response


class TwilioSigned(ChannelBase):
    """What every Twilio callback shares: the signature check."""

    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._validator = RequestValidator(settings.auth_token)

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            raise Forbidden("no Twilio signature")
        try:
            params = form(body)
        except Malformed:
            raise Forbidden("a body Twilio could not have signed") from None
        if not any(
            self._validator.validate(candidate, params, signature)
            for candidate in _candidate_urls(headers, url)
        ):
            raise Forbidden("Twilio signature does not match")

    def _client(self) -> Client:
        # A hung connection must not hold a worker process: 30 seconds, then retry later.
        client = Client(
            self._settings.account_sid,
            self._settings.auth_token,
            http_client=_HttpClient(timeout=30),
        )
        client.api.base_url = self._settings.api_base
        return client

    def fetch_media(self, media: MediaRef, max_bytes: int) -> Media:
        # Only ever send the account's credentials to Twilio's own API.
        if not media.ref.startswith(self._settings.api_base + "/"):
            raise Permanent("media is not on the Twilio API; not fetched")
        return download(
            media.ref,
            kind=media.kind,
            max_bytes=max_bytes,
            auth=(self._settings.account_sid, self._settings.auth_token),
            content_type=media.content_type,
        )


def _kind_of(content_type: str | None) -> str:
    major = (content_type or "").split("/")[0]
    return {"image": "photo", "audio": "voice", "video": "video"}.get(major, "document")


class TwilioMessaging(TwilioSigned):
    """WhatsApp (From: whatsapp:+...) and SMS, through one Twilio webhook."""

    def __init__(self, name: str, settings: TwilioSettings) -> None:
        super().__init__(settings)
        self.name = name
        # WhatsApp allows free text only within 24 hours of the worker's last message.
        self.session_window = dt.timedelta(hours=24) if name == "whatsapp" else None

    def __repr__(self) -> str:
        return f"<TwilioMessaging {self.name} {self._settings.api_base}>"

    def channel_for(self, payload: bytes) -> str:
        return "whatsapp" if form(payload).get("From", "").startswith("whatsapp:") else "sms"

    def envelope_key(self, payload: bytes) -> str:
        fields = form(payload)
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        if not sid or not fields.get("From"):
            raise Malformed("a Twilio message has a MessageSid and a From")
        return sid

    def parse(self, payload: bytes) -> InboundMessage | None:
        fields = form(payload)
        # A pressed quick-reply button (WhatsApp) sends its payload: the option's number.
        body = fields.get("ButtonPayload") or fields.get("Body") or None
        count = _media_count(fields.get("NumMedia"))
        media = tuple(
            MediaRef(
                fields[f"MediaUrl{i}"],
                _kind_of(fields.get(f"MediaContentType{i}")),
                fields.get(f"MediaContentType{i}"),
            )
            for i in range(count)
            if fields.get(f"MediaUrl{i}")
        )
        keyword = (body or "").strip().upper()
        opt = fields.get("OptOutType", "").upper()
        event = "message"
        if opt == "STOP" or keyword in STOP_WORDS:
            event = "opt_out"
        elif opt == "START" or keyword in START_WORDS:
            event = "opt_in"
        return InboundMessage(
            channel=self.channel_for(payload),
            provider_message_id=fields.get("MessageSid") or fields.get("SmsSid") or "",
            address=fields["From"],
            kind=media[0].kind if media and not body else "text",
            text=body,
            media=media,
            event=event,
        )

    def forget_media(self, payload: bytes) -> bytes:
        fields = form(payload)
        kept = {k: v for k, v in fields.items() if not k.startswith("MediaUrl")}
        return urlencode(kept).encode()

    def status_update(self, payload: bytes) -> StatusUpdate | None:
        fields = form(payload)
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        status = fields.get("MessageStatus") or fields.get("SmsStatus")
        if not sid or status not in _STATUS:
            return None  # an inbound message ("received"), not news of one we sent
        code = fields.get("ErrorCode")
        error = f"Twilio error {code}" if code else None
        return StatusUpdate(
            provider_message_id=sid,
            status=_STATUS[status],
            error=error,
            unreachable=_count(code) in UNREACHABLE_CODES,
        )

    def _sender(self) -> dict[str, str]:
        if self._settings.messaging_service_sid:
            return {"messaging_service_sid": self._settings.messaging_service_sid}
        sender = (
            self._settings.whatsapp_from if self.name == "whatsapp" else self._settings.sms_from
        )
        if not sender:
            variable = "TWILIO_WHATSAPP_FROM" if self.name == "whatsapp" else "TWILIO_SMS_FROM"
            raise Permanent(f"{variable} is not set")
        if self.name == "whatsapp" and not sender.startswith("whatsapp:"):
            sender = f"whatsapp:{sender}"
        return {"from_": sender}

    @contextmanager
    def _api(self) -> Iterator[Client]:
        """A client for one call, its errors told as ours, its connection closed after."""
        client = self._client()
        try:
            yield client
        except TwilioRestException as exc:
            http = client.http_client
            response = http.last_response if isinstance(http, _HttpClient) else None
            headers = dict(response.headers or {}) if response is not None else {}
            raise _rest_error(exc, headers) from exc
        except (TwilioException, requests.RequestException) as exc:
            raise Retryable(f"Twilio unreachable: {type(exc).__name__}") from exc
        finally:
            if client.http_client.session is not None:
                client.http_client.session.close()

    @staticmethod
    def _body(message: Outgoing) -> str:
        # Neither SMS nor free-form WhatsApp has buttons: numbered lines it is.
        lines = [message.text]
        lines += [f"{n}. {label}" for n, label in enumerate(message.options, start=1)]
        return "\n".join(lines)

    def send(self, address: str, message: Outgoing) -> str:
        request: dict[str, Any] = {"to": address, **self._sender()}
        if message.template:
            request["content_sid"] = message.template
            request["content_variables"] = json.dumps(dict(message.template_variables))
        else:
            request["body"] = self._body(message)
        with self._api() as client:
            sent = client.messages.create(**request)
        return str(sent.sid)

    def find_sent(self, address: str, message: Outgoing, since: dt.datetime) -> list[str]:
        """Twilio lists the messages an account sent to a number, newest first: look at
        the last few for one like this, created since `since` (less Twilio's clock skew).

        A template's text is filled in by Twilio, so any message then will do; the
        caller leaves out those already recorded as another message's.
        """
        sender = self._sender()
        filters: dict[str, Any] = {"to": address, "limit": LOOK_BACK}
        if "from_" in sender:
            filters["from_"] = sender["from_"]
        with self._api() as client:
            held = client.messages.list(**filters)
        body = None if message.template else self._body(message)
        earliest = since - CLOCK_SKEW
        return [
            str(m.sid)
            for m in reversed(held)
            if m.date_created is not None
            and m.date_created >= earliest
            and (m.direction or "").startswith("outbound")
            and (body is None or m.body == body)
        ]


def _rest_error(exc: TwilioRestException, headers: Mapping[str, str]) -> Exception:
    detail = f"Twilio {exc.status}" + (f" error {exc.code}" if exc.code else "")
    if exc.code in UNREACHABLE_CODES:
        return Unreachable(f"{detail}: the worker unsubscribed")
    if exc.status in RETRYABLE_STATUS:
        return Retryable(detail, retry_after_seconds(headers))
    return Permanent(f"{detail}: {exc.msg}"[:300])


# --- the hotline --------------------------------------------------------------

VOICE_STEP_FIELD = "VoiceDeskStep"
VOICE_LANGUAGE_FIELD = "VoiceDeskLanguage"


def with_step(body: bytes, step: str, language: str | None) -> bytes:
    """Record which IVR step a callback was, next to what Twilio sent."""
    extra = {VOICE_STEP_FIELD: step, VOICE_LANGUAGE_FIELD: language or ""}
    return body + (b"&" if body else b"") + urlencode(extra).encode()


class TwilioVoice(TwilioSigned):
    """The hotline: each IVR callback is one step of a call."""

    name = "voice"

    def envelope_key(self, payload: bytes) -> str:
        fields = form(payload)
        call_sid = fields.get("CallSid")
        step = fields.get(VOICE_STEP_FIELD)
        # Twilio's recording callback carries no From; every other step does.
        if not call_sid or not step or (step != "recording" and not fields.get("From")):
            raise Malformed("a Twilio voice callback has a CallSid and a From")
        provider_id(call_sid, "a CallSid", most=64)  # calls.provider_call_id
        return f"{call_sid}:{step}:{fields.get('RecordingSid', '')}"

    def parse(self, payload: bytes) -> InboundMessage | None:
        fields = form(payload)
        step = fields[VOICE_STEP_FIELD]
        language = fields.get(VOICE_LANGUAGE_FIELD) or None
        media: tuple[MediaRef, ...] = ()
        if step == "recording" and fields.get("RecordingUrl"):
            # Twilio serves the recording as WAV by default; MP3 is a tenth of the size.
            media = (MediaRef(fields["RecordingUrl"] + ".mp3", "recording", "audio/mpeg"),)
        duration = fields.get("CallDuration") or fields.get("RecordingDuration")
        return InboundMessage(
            channel=self.name,
            provider_message_id=self.envelope_key(payload),
            address=fields.get("From", ""),
            kind="call",
            media=media,
            call=CallEvent(
                call_id=fields["CallSid"],
                step=step,
                language=language,
                answered=(fields.get("DialCallStatus") == "completed")
                if step == "dial_result"
                else None,
                duration_seconds=_count(duration, most=MAX_CALL_SECONDS),
            ),
        )

    def forget_media(self, payload: bytes) -> bytes:
        fields = form(payload)
        return urlencode({k: v for k, v in fields.items() if k != "RecordingUrl"}).encode()

    def send(self, address: str, message: Outgoing) -> str:
        raise Permanent("the hotline does not send messages; reply by SMS or call back")
