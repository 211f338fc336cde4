"""Sealing and opening: AES-256-GCM with a key id in every ciphertext.

Every ciphertext is bound to the row and column it lives in (AES-GCM associated
data), so a ciphertext copied to another row or column fails to open. Key rings
hold several keys; the newest is the one that seals, the others still open, and
`voicedesk keys rotate` re-seals everything under the newest.

Inbound envelopes are sealed differently: the web process that receives a webhook
must be able to store what a worker sent but never read it back (the raw payload
holds the worker's address). It seals to an X25519 public key (an HPKE-style
sealed box: ephemeral key agreement, HKDF-SHA256, AES-256-GCM); only processes
holding the vault key ring can derive the private key and open it.
"""

from __future__ import annotations

import base64
import collections
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_SYMMETRIC = b"S1"
_ENVELOPE = b"E1"


class SealingError(Exception):
    """A ciphertext could not be opened: wrong key, wrong row, or tampered."""


class Sealed(bytes):
    """Bytes that came out of a seal call; the only thing a sealed column accepts."""


def binding(table: str, column: str, row_id: object) -> bytes:
    """Return the associated data that ties a ciphertext to one row and column."""
    return f"voicedesk:{table}.{column}:{row_id}".encode()


def _encode_kid(kid: str) -> bytes:
    raw = kid.encode("ascii")
    if not 0 < len(raw) < 256:
        raise ValueError("a key id is 1 to 255 ASCII characters")
    return bytes([len(raw)]) + raw


def _split_header(blob: bytes, magic: bytes) -> tuple[str, bytes]:
    if len(blob) < 4 or blob[:2] != magic:
        raise SealingError("not a ciphertext of this kind")
    size = blob[2]
    kid = blob[3 : 3 + size].decode("ascii", errors="replace")
    return kid, blob[3 + size :]


def key_id_of(blob: bytes) -> str:
    """Return the id of the key a ciphertext was sealed under."""
    magic = bytes(blob[:2])
    if magic not in (_SYMMETRIC, _ENVELOPE):
        raise SealingError("not a ciphertext")
    return _split_header(bytes(blob), magic)[0]


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def new_key_line() -> str:
    """Return a fresh `id:base64key` line for a key ring."""
    key = base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")
    return f"{new_key_id()}:{key}"


def _parse_ring(text: str, name: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in text.replace(",", "\n").splitlines():
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        kid, sep, b64 = item.partition(":")
        if not sep:
            raise ValueError(f"{name}: each key is written id:base64key")
        try:
            key = base64.urlsafe_b64decode(b64.strip() + "=" * (-len(b64.strip()) % 4))
        except ValueError as exc:
            raise ValueError(f"{name}: key {kid!r} is not valid base64") from exc
        if len(key) != KEY_BYTES:
            raise ValueError(f"{name}: key {kid!r} must be {KEY_BYTES} bytes")
        if kid.strip() in keys:
            raise ValueError(f"{name}: key id {kid!r} is listed twice")
        keys[kid.strip()] = key
    if not keys:
        raise ValueError(f"{name}: the key ring is empty")
    return keys


class KeyRing:
    """Named AES-256-GCM keys; the last listed key seals, every listed key opens."""

    def __init__(self, name: str, text: str, source: Path | None = None) -> None:
        self.name = name
        self.source = source
        self._lock = threading.Lock()
        self._load(text)

    @classmethod
    def from_file(cls, name: str, path: Path) -> KeyRing:
        return cls(name, path.read_text(encoding="ascii"), source=path)

    def _load(self, text: str) -> None:
        keys = _parse_ring(text, self.name)
        self._keys = keys
        self.primary_id = list(keys)[-1]
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> int | None:
        return self.source.stat().st_mtime_ns if self.source is not None else None

    def follow_file(self) -> None:
        """Seal under the newest key even if `keys rotate` ran in another process."""
        if self.source is not None and self._file_stamp() != self._stamp:
            self.refresh()

    def __repr__(self) -> str:  # never show key material
        return f"<KeyRing {self.name} keys={list(self._keys)} primary={self.primary_id}>"

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def key(self, kid: str) -> bytes:
        """Return a key by id, re-reading the ring's file once if it is unknown.

        Re-reading lets a running process pick up a key added by `keys rotate`
        in another process without a restart.
        """
        if kid not in self._keys and self.source is not None:
            with self._lock:
                if kid not in self._keys:
                    self._load(self.source.read_text(encoding="ascii"))
        try:
            return self._keys[kid]
        except KeyError:
            raise SealingError(f"{self.name}: unknown key id {kid!r}") from None

    def refresh(self) -> None:
        """Re-read the ring's file, so a newly added key becomes the sealing key."""
        if self.source is not None:
            with self._lock:
                self._load(self.source.read_text(encoding="ascii"))

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        """Seal bytes under the primary key, bound to aad."""
        self.follow_file()
        nonce = os.urandom(NONCE_BYTES)
        body = AESGCM(self._keys[self.primary_id]).encrypt(nonce, plaintext, aad)
        return Sealed(_SYMMETRIC + _encode_kid(self.primary_id) + nonce + body)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """Open a ciphertext sealed by this ring for the same aad."""
        kid, rest = _split_header(bytes(blob), _SYMMETRIC)
        if len(rest) < NONCE_BYTES + TAG_BYTES:
            raise SealingError(f"{self.name}: ciphertext is truncated")
        nonce, body = rest[:NONCE_BYTES], rest[NONCE_BYTES:]
        try:
            return AESGCM(self.key(kid)).decrypt(nonce, body, aad)
        except InvalidTag:
            raise SealingError(f"{self.name}: ciphertext does not open here") from None

    def seal_text(self, text: str, aad: bytes) -> Sealed:
        return self.seal(text.encode("utf-8"), aad)

    def open_text(self, blob: bytes, aad: bytes) -> str:
        return self.open(blob, aad).decode("utf-8")

    def needs_resealing(self, blob: bytes) -> bool:
        self.follow_file()
        return key_id_of(blob) != self.primary_id

    def sealing_header(self) -> bytes:
        """The first bytes of every ciphertext this ring seals now: kind and key id."""
        self.follow_file()
        return _SYMMETRIC + _encode_kid(self.primary_id)


# --- envelopes: sealed to a public key --------------------------------------

_ENVELOPE_INFO = b"voicedesk envelope v1"
_BOXES_KEPT = 256


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral + recipient, info=_ENVELOPE_INFO
    ).derive(shared)


@dataclass(frozen=True)
class EnvelopePublicKey:
    """The public half the web process seals inbound envelopes to."""

    kid: str
    public: bytes

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        ephemeral = X25519PrivateKey.generate()
        eph_pub = _raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.public))
        nonce = os.urandom(NONCE_BYTES)
        body = AESGCM(_box_key(shared, eph_pub, self.public)).encrypt(nonce, plaintext, aad)
        return Sealed(_ENVELOPE + _encode_kid(self.kid) + eph_pub + nonce + body)


class EnvelopeSealer:
    """Seals a stream of envelopes to one public key, as the webhook does thousands a second.

    An X25519 exchange per envelope costs more than the rest of the seal; here one
    ephemeral key pair serves a short while (`lifetime` seconds or `uses` envelopes),
    then is thrown away. Each envelope still has its own random nonce and its row as
    associated data, and the format is the same as `EnvelopePublicKey.seal`'s, so the
    worker opens both alike. What this gives up is small: someone reading the web
    process's memory could open the envelopes of the last minute, which that process
    read in plain text as they arrived anyway; once the key pair is gone, only the
    vault key opens them.
    """

    def __init__(self, key: EnvelopePublicKey, lifetime: float = 60.0, uses: int = 100_000):
        self.key = key
        self._lifetime, self._uses = lifetime, uses
        self._header = b""
        self._box: AESGCM | None = None
        self._left = 0
        self._until = 0.0

    def _renew(self) -> AESGCM:
        ephemeral = X25519PrivateKey.generate()
        eph_pub = _raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.key.public))
        self._box = AESGCM(_box_key(shared, eph_pub, self.key.public))
        self._header = _ENVELOPE + _encode_kid(self.key.kid) + eph_pub
        self._left, self._until = self._uses, time.monotonic() + self._lifetime
        return self._box

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        box = self._box
        self._left -= 1
        if box is None or self._left < 0 or time.monotonic() > self._until:
            box = self._renew()
            self._left -= 1
        nonce = os.urandom(NONCE_BYTES)
        return Sealed(self._header + nonce + box.encrypt(nonce, plaintext, aad))


class EnvelopeKeys:
    """Envelope key pairs derived from the vault key ring: held by worker processes only."""

    def __init__(self, vault: KeyRing) -> None:
        self._vault = vault
        # Box keys of recent ephemeral keys: a web process seals many envelopes with
        # one (see EnvelopeSealer), and the worker need not repeat the exchange.
        self._boxes: collections.OrderedDict[tuple[str, bytes, bytes], AESGCM] = (
            collections.OrderedDict()
        )
        self._boxes_lock = threading.Lock()  # a worker's intake thread and its rq jobs

    def _private(self, kid: str) -> X25519PrivateKey:
        seed = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_ENVELOPE_INFO
        ).derive(self._vault.key(kid))
        return X25519PrivateKey.from_private_bytes(seed)

    def _box(self, kid: str, eph_pub: bytes) -> AESGCM:
        found = (kid, self._vault.key(kid), eph_pub)
        with self._boxes_lock:
            cached = self._boxes.get(found)
            if cached is not None:
                self._boxes.move_to_end(found)
                return cached
        private = self._private(kid)
        recipient = _raw_public(private.public_key())
        # A crafted low-order public key makes exchange() raise ValueError.
        shared = private.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        box = AESGCM(_box_key(shared, eph_pub, recipient))
        with self._boxes_lock:
            self._boxes[found] = box
            while len(self._boxes) > _BOXES_KEPT:
                self._boxes.popitem(last=False)
        return box

    def public_keys(self) -> list[EnvelopePublicKey]:
        """Every public key of the ring, the sealing one last."""
        self._vault.follow_file()
        return [
            EnvelopePublicKey(kid, _raw_public(self._private(kid).public_key()))
            for kid in self._vault.key_ids
        ]

    def current(self) -> EnvelopePublicKey:
        return self.public_keys()[-1]

    def open(self, blob: bytes, aad: bytes) -> bytes:
        kid, rest = _split_header(bytes(blob), _ENVELOPE)
        if len(rest) < 32 + NONCE_BYTES + TAG_BYTES:
            raise SealingError("envelope is truncated")
        eph_pub, nonce, body = rest[:32], rest[32 : 32 + NONCE_BYTES], rest[32 + NONCE_BYTES :]
        try:
            return self._box(kid, eph_pub).decrypt(nonce, body, aad)
        except (InvalidTag, ValueError):
            raise SealingError("envelope does not open here") from None

    def needs_resealing(self, blob: bytes) -> bool:
        return self._vault.needs_resealing(blob)

    def sealing_header(self) -> bytes:
        """The first bytes of every envelope sealed to the current key."""
        self._vault.follow_file()
        return _ENVELOPE + _encode_kid(self._vault.primary_id)
