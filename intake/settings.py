"""One typed, frozen settings object, read from the environment once."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SettingsError(f"{name} must be 1 or more, not {value}")
    return value


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
class TwilioSettings:
    account_sid: str
    auth_token: str = field(repr=False)
    api_base: str
    whatsapp_from: str | None
    sms_from: str | None
    messaging_service_sid: str | None
    # purpose -> language -> content SID of a pre-approved WhatsApp template
    whatsapp_templates: dict[str, dict[str, str]]


@dataclass(frozen=True)
class ViberSettings:
    auth_token: str = field(repr=False)
    api_base: str
    sender_name: str


@dataclass(frozen=True)
class HotlineSettings:
    """Who the IVR rings, and when; recorded prompts per language and prompt name."""

    numbers: tuple[str, ...] = field(repr=False)
    hours: tuple[dt.time, dt.time] | None
    timezone: str
    # "my.greeting" -> URL of a recording; a missing one is spoken instead
    audio: dict[str, str]
    ring_seconds: int = 25
    max_voicemail_seconds: int = 180


@dataclass(frozen=True)
class ValidationSchedule:
    """When to remind a worker who has not answered, and when to stop waiting."""

    reminders: tuple[dt.timedelta, ...] = (dt.timedelta(days=2), dt.timedelta(days=5))
    deadline: dt.timedelta = dt.timedelta(days=14)

    def reminder_times(self, requested_at: dt.datetime) -> list[dt.datetime]:
        return sorted(requested_at + after for after in self.reminders if after < self.deadline)

    def next_due(
        self, requested_at: dt.datetime, reminders_sent: int, deadline_at: dt.datetime | None
    ) -> dt.datetime | None:
        """The next reminder still to send, else the deadline."""
        times = self.reminder_times(requested_at)
        return times[reminders_sent] if reminders_sent < len(times) else deadline_at


# Days within which a step of the business response earns 5, 4, 3 or 2 (later: 1):
# respond (report -> first response), revert (first response -> action plan agreed),
# resolve (report -> resolved).
DEFAULT_TIMELINESS_BANDS: dict[str, tuple[int, int, int, int]] = {
    "time_to_respond": (3, 7, 14, 30),
    "time_to_revert": (7, 14, 30, 60),
    "time_to_resolve": (30, 60, 90, 180),
}
MIN_SMALL_CELL = 5  # never publish a figure built from fewer workers than this


def _bands(env: Mapping[str, str]) -> dict[str, tuple[int, int, int, int]]:
    bands = dict(DEFAULT_TIMELINESS_BANDS)
    for name, days in _json(env, "VOICEDESK_TIMELINESS_BANDS").items():
        if name not in bands:
            raise SettingsError(f"VOICEDESK_TIMELINESS_BANDS: unknown step {name!r}")
        if (
            not isinstance(days, list)
            or len(days) != 4
            or not all(isinstance(d, int) and d > 0 for d in days)
            or sorted(days) != days
        ):
            raise SettingsError(
                f"VOICEDESK_TIMELINESS_BANDS: {name} takes four rising whole days, "
                "like [3, 7, 14, 30]"
            )
        bands[name] = (days[0], days[1], days[2], days[3])
    return bands


def _small_cell(env: Mapping[str, str]) -> int:
    value = _int(env, "VOICEDESK_SMALL_CELL", 10)
    if value < MIN_SMALL_CELL:
        raise SettingsError(
            f"VOICEDESK_SMALL_CELL is {value}: figures from fewer than {MIN_SMALL_CELL} "
            "workers are never published"
        )
    return value


@dataclass(frozen=True)
class RateLimit:
    count: int
    seconds: float


DEFAULT_RATE_LIMITS = {
    # Telegram: about 30 messages a second per bot and one a second per chat.
    "telegram": RateLimit(30, 1.0),
    "telegram:chat": RateLimit(1, 1.0),
    # Twilio: one message a second per long-code sender; WhatsApp senders go faster.
    "sms": RateLimit(1, 1.0),
    "whatsapp": RateLimit(20, 1.0),
    "viber": RateLimit(20, 1.0),
}


def _json(env: Mapping[str, str], name: str) -> Any:
    raw = env.get(name)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} is not valid JSON") from exc


def _rate_limits(env: Mapping[str, str]) -> dict[str, RateLimit]:
    limits = dict(DEFAULT_RATE_LIMITS)
    for item in (env.get("VOICEDESK_RATE_LIMITS") or "").split(","):
        if not item.strip():
            continue
        try:
            name, rate = item.strip().rsplit("=", 1)
            count, seconds = rate.split("/")
            limits[name.strip()] = RateLimit(int(count), float(seconds))
        except ValueError as exc:
            raise SettingsError(
                f"VOICEDESK_RATE_LIMITS: write name=count/seconds, not {item!r}"
            ) from exc
    return limits


def _days(env: Mapping[str, str], name: str, default: str) -> tuple[float, ...]:
    raw = env.get(name) or default
    try:
        days = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(
            f"{name}: write days separated by commas, like 2,5; not {raw!r}"
        ) from exc
    if not days or any(day <= 0 for day in days):
        raise SettingsError(f"{name}: days are more than 0, not {raw!r}")
    return days


def _hours(raw: str | None) -> tuple[dt.time, dt.time] | None:
    if not raw:
        return None
    try:
        start, end = raw.split("-")
        return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())
    except ValueError as exc:
        raise SettingsError(f"VOICEDESK_HOTLINE_HOURS: write 08:00-20:00, not {raw!r}") from exc


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
    twilio: TwilioSettings | None = field(default=None, repr=False)
    viber: ViberSettings | None = field(default=None, repr=False)
    hotline: HotlineSettings | None = field(default=None, repr=False)
    rate_limits: dict[str, RateLimit] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    max_media_bytes: int = 16 * MIB
    max_webhook_bytes: int = MIB
    sweep_after_seconds: int = 60
    sweep_interval_seconds: int = 30
    log_level: str = "INFO"
    testing: bool = False
    # The console's sign-in: idle minutes before a session ends; failed sign-ins allowed
    # per account and per address in a sliding window (the next one is refused).
    session_idle_minutes: int = 30
    login_limit_account: RateLimit = RateLimit(5, 60.0)
    login_limit_address: RateLimit = RateLimit(20, 60.0)
    # Where a number typed without a country code is from (hotline call logging).
    default_region: str = "TH"
    # Worker validation: remind after these many days without an answer; stop waiting
    # (the request becomes unvalidated) after the deadline.
    validation_reminder_days: tuple[float, ...] = (2.0, 5.0)
    validation_deadline_days: float = 14.0
    # What partners and the public see: a figure built from fewer workers than this is
    # shown as "<N"; published counts are rounded to a multiple of `round_counts_to`.
    small_cell: int = 10
    round_counts_to: int = 5
    # Timeliness scores: days within which a step earns 5, 4, 3, 2 (later: 1).
    timeliness_bands: dict[str, tuple[int, int, int, int]] = field(
        default_factory=lambda: dict(DEFAULT_TIMELINESS_BANDS)
    )
    # After the first incident report, a follow-up is due every this many days.
    incident_follow_up_days: int = 14
    # Days a closed ticket keeps its content before the retention policy forgets it.
    retention_days: int = 365
    # Messages from one worker in a minute past which the bot stops answering them.
    flood_per_minute: int = 20

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
        twilio = None
        if env.get("TWILIO_ACCOUNT_SID") or env.get("TWILIO_AUTH_TOKEN"):
            if not (env.get("TWILIO_ACCOUNT_SID") and env.get("TWILIO_AUTH_TOKEN")):
                raise SettingsError("set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
            twilio = TwilioSettings(
                account_sid=env["TWILIO_ACCOUNT_SID"],
                auth_token=env["TWILIO_AUTH_TOKEN"],
                api_base=(env.get("TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/"),
                whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or None,
                sms_from=env.get("TWILIO_SMS_FROM") or None,
                messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
                whatsapp_templates=_json(env, "TWILIO_WHATSAPP_TEMPLATES"),
            )
        viber = None
        if env.get("VIBER_AUTH_TOKEN"):
            viber = ViberSettings(
                auth_token=env["VIBER_AUTH_TOKEN"],
                api_base=(env.get("VIBER_API_BASE") or "https://chatapi.viber.com").rstrip("/"),
                sender_name=env.get("VIBER_SENDER_NAME") or "Worker Voice Desk",
            )
        hotline = None
        if twilio is not None and env.get("VOICEDESK_HOTLINE_NUMBERS") is not None:
            hotline = HotlineSettings(
                numbers=tuple(
                    n.strip() for n in env["VOICEDESK_HOTLINE_NUMBERS"].split(",") if n.strip()
                ),
                hours=_hours(env.get("VOICEDESK_HOTLINE_HOURS")),
                timezone=env.get("VOICEDESK_HOTLINE_TIMEZONE") or "Asia/Bangkok",
                audio=_json(env, "VOICEDESK_HOTLINE_AUDIO"),
                ring_seconds=_int(env, "VOICEDESK_HOTLINE_RING_SECONDS", 25),
                max_voicemail_seconds=_int(env, "VOICEDESK_HOTLINE_VOICEMAIL_SECONDS", 180),
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
            twilio=twilio,
            viber=viber,
            hotline=hotline,
            rate_limits=_rate_limits(env),
            max_media_bytes=_int(env, "VOICEDESK_MAX_MEDIA_BYTES", 16 * MIB),
            simulator_enabled=_flag(env, "VOICEDESK_SIMULATOR", default=False),
            max_webhook_bytes=_int(env, "VOICEDESK_MAX_WEBHOOK_BYTES", MIB),
            sweep_after_seconds=_int(env, "VOICEDESK_SWEEP_AFTER", 60),
            sweep_interval_seconds=_int(env, "VOICEDESK_SWEEP_INTERVAL", 30),
            log_level=env.get("VOICEDESK_LOG_LEVEL") or "INFO",
            session_idle_minutes=_int(env, "VOICEDESK_SESSION_IDLE_MINUTES", 30),
            default_region=(env.get("VOICEDESK_DEFAULT_REGION") or "TH").upper(),
            validation_reminder_days=_days(env, "VOICEDESK_VALIDATION_REMINDERS", "2,5"),
            validation_deadline_days=_days(env, "VOICEDESK_VALIDATION_DEADLINE", "14")[0],
            small_cell=_small_cell(env),
            round_counts_to=max(_int(env, "VOICEDESK_ROUND_COUNTS_TO", 5), 1),
            timeliness_bands=_bands(env),
            incident_follow_up_days=_int(env, "VOICEDESK_INCIDENT_FOLLOW_UP_DAYS", 14),
            retention_days=_positive(env, "VOICEDESK_RETENTION_DAYS", 365),
            flood_per_minute=_positive(env, "VOICEDESK_FLOOD_PER_MINUTE", 20),
        )

    def with_changes(self, **changes: object) -> Settings:
        """Return a copy with some settings replaced (tests and the demo use this)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def validation_schedule(self) -> ValidationSchedule:
        return ValidationSchedule(
            reminders=tuple(dt.timedelta(days=d) for d in self.validation_reminder_days),
            deadline=dt.timedelta(days=self.validation_deadline_days),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
