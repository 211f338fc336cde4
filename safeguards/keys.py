"""Load key rings and the pseudonym pepper; generate development keys when none are set."""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safeguards.sealing import KeyRing, new_key_line

if TYPE_CHECKING:
    from intake.settings import Settings

logger = logging.getLogger(__name__)

DEV_WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  DEVELOPMENT KEYS in %s
!!  No VOICEDESK_CONTENT_KEYS / VOICEDESK_VAULT_KEYS / VOICEDESK_PSEUDONYM_PEPPER
!!  are configured, so keys were read from (or generated into) the instance
!!  folder. Anyone who can read that folder can read every worker's messages.
!!  Never run real intake like this.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


class KeyConfigError(ValueError):
    """Keys are missing or half-configured."""


@dataclass(frozen=True)
class KeyFiles:
    """Where a key ring lives, when it lives in a file (so rotation can extend it)."""

    content: Path | None
    vault: Path | None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)


def dev_key_dir(settings: Settings) -> Path:
    return settings.instance / "keys"


def uses_dev_keys(settings: Settings) -> bool:
    configured = [
        settings.content_keys or settings.content_keys_file,
        settings.vault_keys or settings.vault_keys_file,
        settings.pseudonym_pepper or settings.pseudonym_pepper_file,
    ]
    if any(configured) and not all(configured):
        raise KeyConfigError(
            "configure all of VOICEDESK_CONTENT_KEYS, VOICEDESK_VAULT_KEYS and "
            "VOICEDESK_PSEUDONYM_PEPPER (or their *_FILE variants), or none of them"
        )
    return not any(configured)


def ensure_dev_keys(settings: Settings) -> bool:
    """Generate development keys into the instance folder if none exist; True if generated."""
    folder = dev_key_dir(settings)
    made = False
    for name, text in (
        ("content.keys", new_key_line() + "\n"),
        ("vault.keys", new_key_line() + "\n"),
        ("pseudonym.pepper", base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n"),
    ):
        path = folder / name
        if not path.exists():
            _write_private(path, text)
            made = True
    return made


def key_files(settings: Settings) -> KeyFiles:
    if uses_dev_keys(settings):
        folder = dev_key_dir(settings)
        return KeyFiles(folder / "content.keys", folder / "vault.keys")
    return KeyFiles(settings.content_keys_file, settings.vault_keys_file)


def _ring(name: str, value: str | None, path: Path | None) -> KeyRing:
    if not value and (path is None or not path.exists()):
        raise KeyConfigError(f"{name}: no key ring at {path}; run `voicedesk init` first")
    try:
        if value:
            return KeyRing(name, value)
        assert path is not None  # checked above
        return KeyRing.from_file(name, path)
    except ValueError as exc:  # a ring that does not parse: name it, never show it
        raise KeyConfigError(str(exc)) from None


def load_content_ring(settings: Settings) -> KeyRing:
    """The content key ring: message text, notes, summaries (console and workers)."""
    if uses_dev_keys(settings):
        logger.warning(DEV_WARNING, dev_key_dir(settings))
        return _ring("content", None, dev_key_dir(settings) / "content.keys")
    return _ring("content", settings.content_keys, settings.content_keys_file)


def load_vault_ring(settings: Settings) -> KeyRing:
    """The vault key ring: channel addresses and envelopes (worker processes only)."""
    if uses_dev_keys(settings):
        return _ring("vault", None, dev_key_dir(settings) / "vault.keys")
    return _ring("vault", settings.vault_keys, settings.vault_keys_file)


def load_pepper(settings: Settings) -> bytes:
    """The pseudonym pepper (intake only)."""
    if uses_dev_keys(settings):
        raw = (dev_key_dir(settings) / "pseudonym.pepper").read_text(encoding="ascii")
    elif settings.pseudonym_pepper:
        raw = settings.pseudonym_pepper
    else:
        assert settings.pseudonym_pepper_file is not None
        raw = settings.pseudonym_pepper_file.read_text(encoding="ascii")
    raw = raw.strip()
    pepper = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    if len(pepper) < 32:
        raise KeyConfigError("VOICEDESK_PSEUDONYM_PEPPER must be at least 32 random bytes")
    return pepper


def append_key(path: Path) -> str:
    """Add a new key to a key ring file atomically; return its id."""
    line = new_key_line()
    text = path.read_text(encoding="ascii")
    if text and not text.endswith("\n"):
        text += "\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    if tmp.exists():
        tmp.unlink()
    _write_private(tmp, text + line + "\n")
    os.replace(tmp, path)
    return line.split(":", 1)[0]
