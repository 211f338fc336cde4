"""`voicedesk audit verify`: the operator's check that nobody rewrote the audit log."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from support.builders import telegram_update


def _verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "audit", "verify"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_audit_verify_passes_on_an_untouched_log_and_fails_on_an_edited_row(
    desk, product_env: dict[str, str]
) -> None:
    desk.organisation("Mae Sot Migrant Centre", ["my"])
    token = desk.token("cw@maesot.example", "Mae Sot Migrant Centre")
    desk.post_update(telegram_update(7340050002, "ပတ်စပို့ ပြန်မပေးဘူး"))
    desk.work()
    ref = desk.sql("SELECT ref FROM tickets")[0][0]
    for _ in range(3):
        assert desk.api(f"/api/v1/tickets/{ref}", token).status_code == 200
    entries = desk.sql("SELECT count(*) FROM audit_log")[0][0]
    assert entries >= 3

    intact = _verify(product_env)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.strip() == f"audit log intact: {entries} entries"

    # Someone with the database owner's rights switches the append-only trigger off and
    # makes one read of the thread look like another user's.
    second = desk.sql("SELECT id FROM audit_log WHERE action = 'ticket.read' ORDER BY id")[1][0]
    url = product_env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute("UPDATE audit_log SET actor = 'user:999' WHERE id = %s", (second,))
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")

    broken = _verify(product_env)
    assert broken.returncode == 1
    assert broken.stdout.strip() == f"audit log BROKEN at entry {second} (of {entries})"
