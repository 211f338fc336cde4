"""Two-factor sign-in: TOTP codes (RFC 6238) that work once, and one-time recovery codes.

Pure functions: no database, no clock of their own (callers pass the time), so the
rules - which time steps count, what a recovery code looks like - are tested alone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import qrcode
from qrcode.image.svg import SvgPathFillImage

ISSUER = "Worker Voice Desk"
STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODE_COUNT = 10
# No 0/O or 1/I/L: a recovery code is read off paper and typed by hand.
_RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_RECOVERY_LENGTH = 16  # 16 of 31 symbols: 79 bits, beyond guessing even from an unsalted hash
_SEPARATORS = str.maketrans("", "", " -\t\u00a0")


def new_secret() -> str:
    """Return a new TOTP secret: 32 base32 characters, 160 bits as RFC 4226 recommends."""
    return pyotp.random_base32()


def grouped(secret: str) -> str:
    """Write a secret in groups of four, as authenticator apps accept it typed by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, account: str) -> str:
    """Return the otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """Draw the URI as an inline SVG QR code (no script, no style attribute: the CSP allows it)."""
    image = qrcode.make(uri, image_factory=SvgPathFillImage, box_size=8)
    return str(image.to_string(encoding="unicode"))


def time_step(now: float) -> int:
    """Return the TOTP time step of a Unix time."""
    return int(now // STEP_SECONDS)


def _ascii_digits(code: str) -> str:
    # Thai, Myanmar, Khmer or Devanagari digits typed on a staff keyboard mean the same.
    return "".join(str(int(ch)) if ch.isdecimal() else ch for ch in code.translate(_SEPARATORS))


def looks_like_totp(code: str) -> bool:
    """Tell a six-digit authenticator code from a recovery code."""
    digits = _ascii_digits(code)
    return len(digits) == DIGITS and digits.isascii() and digits.isdigit()


def matching_step(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """Return the time step the code belongs to, or None if it is wrong or used already.

    Only the steps just before, at and just after now count (a phone's clock may be
    off by a few seconds), and only steps after the last one used: a code seen once,
    over a shoulder or in a proxy's log, never works again.
    """
    if not looks_like_totp(code):
        return None
    digits = _ascii_digits(code)
    totp = pyotp.TOTP(secret)
    current = time_step(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def code_at(secret: str, step: int) -> str:
    """Return the code an authenticator app shows during this time step."""
    return pyotp.TOTP(secret).generate_otp(step)


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Return new recovery codes, written XXXX-XXXX-XXXX-XXXX: shown once, kept as hashes."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    return codes


def recovery_code_hash(code: str) -> str | None:
    """Return the SHA-256 a recovery code is stored as, or None if it cannot be one.

    Spaces, dashes and letter case do not matter, so a code copied from paper works.
    """
    raw = code.translate(_SEPARATORS).upper()
    if len(raw) != _RECOVERY_LENGTH or any(ch not in _RECOVERY_ALPHABET for ch in raw):
        return None
    return hashlib.sha256(raw.encode("ascii")).hexdigest()
