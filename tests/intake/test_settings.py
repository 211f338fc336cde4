"""Settings come from the environment once, typed, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.settings import Settings, SettingsError
from safeguards.keys import KeyConfigError, uses_dev_keys


def test_nothing_set_means_sqlite_in_the_instance_folder_and_no_redis(tmp_path: Path) -> None:
    settings = Settings.from_env({"VOICEDESK_INSTANCE": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'voicedesk.sqlite3'}"
    assert settings.redis_url is None
    assert settings.telegram is None
    assert uses_dev_keys(settings)


@pytest.mark.parametrize("url", ["postgres://u@h/db", "postgresql://u@h/db"])
def test_plain_postgres_url_gets_our_driver(url: str) -> None:
    assert Settings.from_env({"DATABASE_URL": url}).database_url == "postgresql+psycopg://u@h/db"


def test_telegram_token_without_webhook_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        Settings.from_env({"TELEGRAM_BOT_TOKEN": "1:x"})


def test_secret_and_its_file_variant_together_are_refused() -> None:
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({"VOICEDESK_CONTENT_KEYS": "a", "VOICEDESK_CONTENT_KEYS_FILE": "/x"})


def test_half_configured_keys_are_refused() -> None:
    settings = Settings.from_env({"VOICEDESK_CONTENT_KEYS": "k1:" + "A" * 43})
    with pytest.raises(KeyConfigError, match="or none of them"):
        uses_dev_keys(settings)


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="VOICEDESK_SWEEP_AFTER"):
        Settings.from_env({"VOICEDESK_SWEEP_AFTER": "soon"})


def test_repr_never_shows_key_material() -> None:
    settings = Settings.from_env(
        {
            "VOICEDESK_PSEUDONYM_PEPPER": "pepper-value",
            "TELEGRAM_BOT_TOKEN": "1:tok",
            "TELEGRAM_WEBHOOK_SECRET": "hook-secret",
        }
    )
    assert "pepper-value" not in repr(settings)
    assert "1:tok" not in repr(settings)
    assert "hook-secret" not in repr(settings)


def test_validation_schedule_comes_from_the_environment_in_days() -> None:
    default = Settings.from_env({}).validation_schedule
    assert [r.days for r in default.reminders] == [2, 5]
    assert default.deadline.days == 14
    quick = Settings.from_env(
        {"VOICEDESK_VALIDATION_REMINDERS": "1, 3", "VOICEDESK_VALIDATION_DEADLINE": "7.5"}
    ).validation_schedule
    assert [r.days for r in quick.reminders] == [1, 3]
    assert quick.deadline.total_seconds() == 7.5 * 86400


@pytest.mark.parametrize("raw", ["two", "0", "-1", ","])
def test_a_bad_validation_schedule_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="VOICEDESK_VALIDATION_REMINDERS"):
        Settings.from_env({"VOICEDESK_VALIDATION_REMINDERS": raw})
