"""One typed, frozen settings object, read from the environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

MIB = 1024 * 1024


class SettingsError(ValueError):
    """A setting is present but cannot be used."""


def _database_url(raw: str | None, instance: Path) -> str:
    """Pick our driver for a plain postgres URL; default to SQLite in the instance folder."""
    if not raw:
        return f"sqlite:///{instance / 'voicedesk.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def _read_secret(env: Mapping[str, str], name: str) -> tuple[str | None, Path | None]:
    """Return a secret from NAME, or the path named by NAME_FILE."""
    value = env.get(name) or None
    path = env.get(f"{name}_FILE") or None
    if value and path:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    return value, Path(path) if path else None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from exc


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str
    webhook_secret: str
    api_base: str


@dataclass(frozen=True)
class Settings:
    instance: Path
    database_url: str
    redis_url: str | None
    secret_key: str | None
    public_base_url: str
    content_keys: str | None = field(repr=False)
    content_keys_file: Path | None
    vault_keys: str | None = field(repr=False)
    vault_keys_file: Path | None
    pseudonym_pepper: str | None = field(repr=False)
    pseudonym_pepper_file: Path | None
    telegram: TelegramSettings | None = field(repr=False)
    simulator_enabled: bool
    max_webhook_bytes: int = MIB
    sweep_after_seconds: int = 60
    sweep_interval_seconds: int = 30
    log_level: str = "INFO"
    testing: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from the environment (and a .env file when env is None)."""
        if env is None:
            from dotenv import dotenv_values, find_dotenv

            # The .env of the folder the command runs in, not one near the installed code.
            dotenv = dotenv_values(find_dotenv(usecwd=True))
            env = {**{k: v for k, v in dotenv.items() if v is not None}, **os.environ}
        instance = Path(env.get("VOICEDESK_INSTANCE") or "instance").resolve()
        content_keys, content_keys_file = _read_secret(env, "VOICEDESK_CONTENT_KEYS")
        vault_keys, vault_keys_file = _read_secret(env, "VOICEDESK_VAULT_KEYS")
        pepper, pepper_file = _read_secret(env, "VOICEDESK_PSEUDONYM_PEPPER")
        telegram = None
        if env.get("TELEGRAM_BOT_TOKEN"):
            if not env.get("TELEGRAM_WEBHOOK_SECRET"):
                raise SettingsError(
                    "TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_BOT_TOKEN: "
                    "without it anyone could post forged updates"
                )
            telegram = TelegramSettings(
                bot_token=env["TELEGRAM_BOT_TOKEN"],
                webhook_secret=env["TELEGRAM_WEBHOOK_SECRET"],
                api_base=(env.get("TELEGRAM_API_BASE") or "https://api.telegram.org").rstrip("/"),
            )
        return cls(
            instance=instance,
            database_url=_database_url(env.get("DATABASE_URL"), instance),
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("SECRET_KEY") or None,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "http://localhost:5000").rstrip("/"),
            content_keys=content_keys,
            content_keys_file=content_keys_file,
            vault_keys=vault_keys,
            vault_keys_file=vault_keys_file,
            pseudonym_pepper=pepper,
            pseudonym_pepper_file=pepper_file,
            telegram=telegram,
            simulator_enabled=_flag(env, "VOICEDESK_SIMULATOR", default=False),
            max_webhook_bytes=_int(env, "VOICEDESK_MAX_WEBHOOK_BYTES", MIB),
            sweep_after_seconds=_int(env, "VOICEDESK_SWEEP_AFTER", 60),
            sweep_interval_seconds=_int(env, "VOICEDESK_SWEEP_INTERVAL", 30),
            log_level=env.get("VOICEDESK_LOG_LEVEL") or "INFO",
        )

    def with_changes(self, **changes: object) -> Settings:
        """Return a copy with some settings replaced (tests and the demo use this)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
