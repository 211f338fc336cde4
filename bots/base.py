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


class Unreachable(Exception):
    """The provider says this worker cannot be reached on this channel any more."""


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


@dataclass(frozen=True)
class Outgoing:
    """A reply to send: text, and numbered options the channel may show as buttons."""

    text: str = field(repr=False)
    options: tuple[str, ...] = ()


class Channel(Protocol):
    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise Forbidden unless the request comes from the provider."""

    def envelope_key(self, payload: bytes) -> str:
        """Return the provider's unique id for this delivery; raise Malformed if there is none."""

    def parse(self, payload: bytes) -> InboundMessage | None:
        """Return what the worker sent, or None for a delivery that carries no message."""

    def send(self, address: str, message: Outgoing) -> str:
        """Send a message; return the provider's message id."""


def load_json(payload: bytes) -> dict[str, Any]:
    import json

    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("body is not JSON") from exc
    if not isinstance(data, dict):
        raise Malformed("body is not a JSON object")
    return data
