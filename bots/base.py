"""What every channel adapter speaks: the parsed inbound message and the adapter protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Forbidden(Exception):
    """The request did not prove it came from the provider (HTTP 403)."""


class Malformed(ValueError):
    """The request is not a payload this channel understands (HTTP 400)."""


class SendFailed(Exception):
    """A send did not go through; `reason` is what the caseworker is shown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retryable(SendFailed):
    """Worth trying again later (network, 5xx, 429); the provider may say when."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Permanent(SendFailed):
    """Trying again will not help (a bad number, a rejected message)."""


class Unreachable(Permanent):
    """The worker cannot be reached on this channel any more (blocked, opted out)."""


@dataclass(frozen=True)
class MediaRef:
    """Where a provider keeps something a worker sent: fetched once, then forgotten."""

    ref: str = field(repr=False)  # a provider URL or file id
    kind: str = "document"  # photo, voice, audio, video, document, recording
    content_type: str | None = None


@dataclass(frozen=True)
class Media:
    content: bytes = field(repr=False)
    content_type: str
    kind: str


@dataclass(frozen=True)
class StatusUpdate:
    """A provider's word on an outbound message: delivered, read, failed..."""

    provider_message_id: str
    status: str  # one of DeliveryStatus's values
    error: str | None = None
    unreachable: bool = False


@dataclass(frozen=True)
class CallEvent:
    """One step of a hotline call, as the IVR reports it."""

    call_id: str
    # started, language, dial_result, voicemail_left, recording, ended
    step: str
    language: str | None = None
    answered: bool | None = None
    duration_seconds: int | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One thing a worker sent, in the same shape whatever the channel."""

    channel: str
    provider_message_id: str
    address: str = field(repr=False)
    kind: str  # text, photo, voice, audio, video, document, sticker, location, contact, other
    text: str | None = field(default=None, repr=False)
    language_hint: str | None = None
    sent_at: dt.datetime | None = None
    edit_of: str | None = None  # the provider id of the message this one edits
    media: tuple[MediaRef, ...] = ()
    # "message", or what else the worker did: "opt_out", "opt_in" (subscribed again)
    event: str = "message"
    call: CallEvent | None = None

    def __post_init__(self) -> None:
        # The one place every channel's parse ends: what the rest of intake relies on.
        # A call's recording callback is the one delivery that names no sender.
        if not isinstance(self.address, str) or not (self.address or self.kind == "call"):
            raise Malformed(f"a {self.channel} message names its sender")
        if not isinstance(self.provider_message_id, str):
            raise Malformed(f"a {self.channel} message has an id")
        provider_id(self.provider_message_id, f"a {self.channel} message's id")
        if self.text is not None and not isinstance(self.text, str):
            raise Malformed(f"a {self.channel} message's text is text")
        if self.language_hint is not None and not isinstance(self.language_hint, str):
            raise Malformed(f"a {self.channel} message's language is text")


@dataclass(frozen=True)
class Outgoing:
    """A reply to send: text, and numbered options the channel may show as buttons.

    `template` is set when the channel's session window has closed (WhatsApp's 24
    hours): the channel then sends that pre-approved template instead of free text.
    """

    text: str = field(repr=False)
    options: tuple[str, ...] = ()
    template: str | None = None
    template_variables: Mapping[str, str] = field(default_factory=dict, repr=False)


class Channel(Protocol):
    name: str
    session_window: dt.timedelta | None

    def forget_media(self, payload: bytes) -> bytes:
        """Return the payload without provider media URLs, once the media is downloaded."""

    def acknowledge(self, inbound: InboundMessage) -> None:
        """Tell the provider we took the message in, where it waits for that (a button press)."""

    def channel_for(self, payload: bytes) -> str:
        """Name the channel a delivery belongs to (one Twilio hook serves WhatsApp and SMS)."""

    def status_update(self, payload: bytes) -> StatusUpdate | None:
        """Return the delivery status a provider callback reports, if that is what it is."""

    def instant_reply(self, payload: bytes) -> dict[str, Any] | None:
        """Return a body to answer with at once, for events answered in the response."""

    def fetch_media(self, media: MediaRef, max_bytes: int) -> Media:
        """Download what a worker sent, refusing more than max_bytes."""

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise Forbidden unless the request comes from the provider."""

    def envelope_key(self, payload: bytes) -> str:
        """Return the provider's unique id for this delivery; raise Malformed if there is none."""

    def parse(self, payload: bytes) -> InboundMessage | None:
        """Return what the worker sent, or None for a delivery that carries no message."""

    def send(self, address: str, message: Outgoing) -> str:
        """Send a message; return the provider's message id."""

    def find_sent(self, address: str, message: Outgoing, since: dt.datetime) -> list[str] | None:
        """Ids of messages like this one the provider took for this address since `since`,
        oldest first; None when the provider cannot be asked (it keeps no such list)."""


def load_json(payload: bytes) -> dict[str, Any]:
    import json

    try:
        # Strictly UTF-8, as providers send JSON: json.loads would read bytes of a lone
        # surrogate ("\xed\xa0\x80") into text that nothing can store.
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: nested deeper than Python's stack, which no provider sends.
        raise Malformed("body is not JSON") from exc
    if not isinstance(data, dict):
        raise Malformed("body is not a JSON object")
    return data


# The longest provider id the database keeps (messages and envelopes, VARCHAR(128)).
MAX_PROVIDER_ID = 128


def provider_id(value: str, what: str, most: int = MAX_PROVIDER_ID) -> str:
    """An id a provider gave, as the database can keep it: 1 to `most` characters, no NUL,
    nothing UTF-8 cannot hold (JSON may escape a lone surrogate, "\\ud800").

    PostgreSQL refuses NUL in text and values over a column's length, and psycopg
    cannot send a lone surrogate; refused there, a delivery would fail with a 5xx and
    its provider would retry it for days.
    """
    if not value or len(value) > most or "\x00" in value or not _utf8(value):
        raise Malformed(f"{what} is 1 to {most} characters of text")
    return value


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Readers for a provider's JSON: a field of the wrong type reads as absent, never raises.


def obj(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def string(value: Any) -> str | None:
    """A non-empty string, or None. A lone surrogate (JSON can escape one; no phone
    types one) becomes "?": it is no character, and nothing could seal or store it."""
    if not isinstance(value, str) or not value:
        return None
    return value if _utf8(value) else value.encode("utf-8", "replace").decode("utf-8")


def ident(value: Any) -> str | None:
    """An id as providers write them (a string or an integer, not a bool) as text, or None.

    Never mended as `string` mends text: two ids must not become one.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value and _utf8(value) else None


class ChannelBase:
    """Defaults for what most channels do not need."""

    name = "channel"
    # How long after the worker's last message free text may be sent (None: always).
    session_window: dt.timedelta | None = None

    def forget_media(self, payload: bytes) -> bytes:
        """Return the payload without provider media URLs, once the media is downloaded."""
        return payload

    def acknowledge(self, inbound: InboundMessage) -> None:
        """Tell the provider we took the message in, where it waits for that (a button press)."""

    def channel_for(self, payload: bytes) -> str:
        return self.name

    def status_update(self, payload: bytes) -> StatusUpdate | None:
        return None

    def instant_reply(self, payload: bytes) -> dict[str, Any] | None:
        return None

    def fetch_media(self, media: MediaRef, max_bytes: int) -> Media:
        raise Permanent(f"{self.name} carries no media")

    def find_sent(self, address: str, message: Outgoing, since: dt.datetime) -> list[str] | None:
        # Telegram's and Viber's APIs neither take an idempotency key nor list what a
        # bot sent: whether an unrecorded attempt arrived cannot be known.
        return None
