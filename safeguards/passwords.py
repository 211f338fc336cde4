"""Password hashing (argon2id) and API tokens (random secrets stored as SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
TOKEN_PREFIX = "vd_"  # noqa: S105 - a prefix, not a secret


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# Checked against when an account does not exist, so timing does not tell.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_token() -> str:
    """Return a new API token: shown once, stored only as its hash."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Hash a token for storage and lookup; tokens carry 256 bits, so SHA-256 suffices."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
