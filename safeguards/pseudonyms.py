"""Stable worker pseudonyms: a keyed HMAC of channel and normalised address."""

from __future__ import annotations

import base64
import hashlib
import hmac


def normalise_address(channel: str, address: str) -> str:
    """Return the canonical form of an address, so one worker has one pseudonym."""
    value = address.strip()
    if channel in {"whatsapp", "sms", "voice"}:
        value = value.removeprefix("whatsapp:")
        digits = "".join(ch for ch in value if ch.isdigit())
        return "+" + digits
    return value.lower()


def pseudonym_for(pepper: bytes, channel: str, address: str) -> str:
    """Return the worker's pseudonym: 'W' and 20 base32 characters (100 bits)."""
    message = f"{channel}\x00{normalise_address(channel, address)}".encode()
    digest = hmac.new(pepper, message, hashlib.sha256).digest()
    return "W" + base64.b32encode(digest).decode("ascii")[:20]
