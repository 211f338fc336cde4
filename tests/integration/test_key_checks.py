"""A wrong or missing key stops a process at start, saying which; it never runs on.

A worker started with another content key would take messages in and open none; one
with another pepper would give every worker a new pseudonym and split their case.
Each case here starts `voicedesk worker --burst` as an operator would, after a
first start with the right keys recorded their check values.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from console.app import close_app, create_app
from intake.db import make_engine
from intake.envelopes import current_envelope_key, publish_envelope_keys
from intake.settings import Settings
from safeguards import keys as keyfiles
from safeguards.keycheck import WrongKey
from safeguards.sealing import EnvelopeKeys, new_key_line

from integration.conftest import open_desk
from support.builders import telegram_update

CLI = [sys.executable, "-c", "from console.cli import main; main()"]


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "worker", "--burst"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _same_id_other_key(path: Path) -> None:
    kid = path.read_text().split(":", 1)[0]
    other = new_key_line().split(":", 1)[1]
    path.write_text(f"{kid}:{other}\n")


@pytest.fixture
def started(settings: Settings, product_env: dict[str, str]) -> dict[str, str]:
    """The desk started once with the right keys, a message taken in and still unprocessed."""
    with open_desk(settings) as desk:
        desk.organisation("Bangkok Workers Centre")
        assert desk.post_update(telegram_update(7340096001, "สวัสดี")).status_code == 200
        recorded = desk.sql("SELECT ring, kid FROM key_checks ORDER BY ring")
    assert [ring for ring, _ in recorded] == ["content", "pepper", "vault"]
    return product_env


def test_the_right_keys_start_and_a_new_key_is_recorded(
    started: dict[str, str], settings: Settings
) -> None:
    ring = Path(started["VOICEDESK_CONTENT_KEYS_FILE"])
    ring.write_text(ring.read_text() + new_key_line() + "\n")  # as `keys rotate` does
    done = _worker(started)
    assert done.returncode == 0, done.stderr
    with open_desk(settings) as desk:
        assert desk.sql("SELECT count(*) FROM key_checks WHERE ring = 'content'")[0][0] == 2
        assert desk.sql("SELECT count(*) FROM messages WHERE direction = 'in'")[0][0] == 1


@pytest.mark.parametrize(
    ("variable", "said"),
    [
        ("VOICEDESK_CONTENT_KEYS_FILE", "the content key ring's key"),
        ("VOICEDESK_VAULT_KEYS_FILE", "the vault key ring's key"),
    ],
)
def test_a_key_of_the_same_id_but_another_value_stops_the_worker(
    started: dict[str, str], settings: Settings, variable: str, said: str
) -> None:
    _same_id_other_key(Path(started[variable]))
    done = _worker(started)
    assert done.returncode != 0
    assert f"refusing to start: {said}" in done.stderr
    assert "Traceback" not in done.stderr
    assert Path(started[variable]).read_text().split(":", 1)[1].strip() not in done.stderr


def test_another_pepper_stops_the_worker_before_it_splits_anyone_s_case(
    started: dict[str, str],
) -> None:
    Path(started["VOICEDESK_PSEUDONYM_PEPPER_FILE"]).write_text(
        base64.urlsafe_b64encode(os.urandom(32)).decode()
    )
    done = _worker(started)
    assert done.returncode != 0
    assert "refusing to start: VOICEDESK_PSEUDONYM_PEPPER is not the pepper" in done.stderr


def test_a_ring_with_none_of_the_data_s_keys_stops_the_web_process_too(
    started: dict[str, str],
) -> None:
    Path(started["VOICEDESK_CONTENT_KEYS_FILE"]).write_text(new_key_line() + "\n")
    with pytest.raises(WrongKey, match="holds none of the keys"):
        close_app(create_app(Settings.from_env(started)))


def test_a_missing_key_file_stops_the_worker_with_its_name(started: dict[str, str]) -> None:
    Path(started["VOICEDESK_VAULT_KEYS_FILE"]).unlink()
    done = _worker(started)
    assert done.returncode != 0
    assert "refusing to start: vault: no key ring at" in done.stderr
    assert "Traceback" not in done.stderr


def test_processes_starting_together_on_an_empty_database_publish_the_envelope_key_once(
    settings: Settings,
) -> None:
    """Each process publishes the envelope keys as it starts; the second of two that start
    together found the key missing, then met the first's row: UniqueViolation, no start."""
    envelopes = EnvelopeKeys(keyfiles.load_vault_ring(settings))
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as first, Session(engine) as second:
            publish_envelope_keys(first, envelopes)  # inserted, not yet committed
            outcome: list[BaseException | None] = []

            def start_second() -> None:
                try:
                    publish_envelope_keys(second, envelopes)  # waits on the first's row
                    second.commit()
                    outcome.append(None)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    outcome.append(exc)

            thread = threading.Thread(target=start_second)
            thread.start()
            thread.join(timeout=1)
            assert thread.is_alive()  # blocked on the first's uncommitted key
            first.commit()
            thread.join(timeout=30)
            assert outcome == [None]
        with Session(engine) as session:
            assert current_envelope_key(session).kid == envelopes.current().kid
            assert session.scalar(text("SELECT count(*) FROM envelope_keys")) == 1
    finally:
        engine.dispose()
