"""`voicedesk keys rotate`: a new key in every ring, everything re-sealed, nothing unreadable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import text as sql_text

from intake.settings import Settings
from safeguards import keys as keyfiles
from safeguards.rotation import reseal, sealed_columns
from safeguards.sealing import EnvelopeKeys, binding, key_id_of

from support.builders import telegram_update
from support.telegram_stub import TelegramStub

CLI = [sys.executable, "-c", "from console.cli import main; main()"]
SEALED = {
    "messages": "text_sealed",
    "vault_entries": "address_sealed",
    "inbound_envelopes": "payload_sealed",
}


def _key_ids(desk, table: str, column: str) -> set[str]:
    rows = desk.sql(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608
    return {key_id_of(row[0]) for row in rows}


def _newest(path: str) -> str:
    return Path(path).read_text().strip().splitlines()[-1].split(":", 1)[0]


def test_after_rotation_every_message_is_still_readable_under_the_new_key(
    desk, product_env: dict[str, str], telegram_stub: TelegramStub
) -> None:
    desk.organisation("Bangkok Workers Centre")
    token = desk.token("cw@bwc.example", "Bangkok Workers Centre")
    texts = {7340040001: "ကျွန်တော့် ပတ်စ်ပို့ကို ယူထားတယ်", 7340040002: "ไม่ได้รับค่าจ้างสองเดือน"}
    for chat, text in texts.items():
        desk.post_update(telegram_update(chat, text))
    desk.work()
    before = {
        t["ref"]: desk.api(f"/api/v1/tickets/{t['ref']}", token).get_json()["messages"]
        for t in desk.api("/api/v1/tickets", token).get_json()["tickets"]
    }
    old_content = _newest(product_env["VOICEDESK_CONTENT_KEYS_FILE"])

    done = subprocess.run(
        [*CLI, "keys", "rotate"],
        env={**os.environ, **product_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "messages.text_sealed\t4 re-encrypted" in done.stdout
    assert "vault_entries.address_sealed\t2 re-encrypted" in done.stdout
    assert "inbound_envelopes.payload_sealed\t2 re-encrypted" in done.stdout
    assert "messages.text_sealed: 4/4" in done.stderr  # progress goes to standard error

    new_content = _newest(product_env["VOICEDESK_CONTENT_KEYS_FILE"])
    new_vault = _newest(product_env["VOICEDESK_VAULT_KEYS_FILE"])
    assert new_content != old_content
    assert _key_ids(desk, "messages", "text_sealed") == {new_content}
    assert _key_ids(desk, "vault_entries", "address_sealed") == {new_vault}
    assert _key_ids(desk, "inbound_envelopes", "payload_sealed") == {new_vault}

    # The running console and worker, started before the rotation, read and write on.
    after = {
        ref: desk.api(f"/api/v1/tickets/{ref}", token).get_json()["messages"] for ref in before
    }
    assert after == before
    desk.post_update(telegram_update(7340040001, "ကျေးဇူးပါ"))
    desk.work()
    assert _key_ids(desk, "messages", "text_sealed") == {new_content}
    assert len(telegram_stub.messages_to(7340040001)) == 2


def test_rotation_refuses_key_rings_given_inline_in_the_environment(
    product_env: dict[str, str],
) -> None:
    env = {**os.environ, **product_env}
    for ring in ("CONTENT", "VAULT"):
        env[f"VOICEDESK_{ring}_KEYS"] = Path(env.pop(f"VOICEDESK_{ring}_KEYS_FILE")).read_text()
    done = subprocess.run(
        [*CLI, "keys", "rotate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "_FILE" in done.stderr


def test_rotation_leaves_a_row_a_worker_holds_and_never_undoes_what_it_changed_meanwhile(
    desk, product_env: dict[str, str], database_url: str
) -> None:
    """A message a worker holds is skipped, not waited on (no deadlock); when its holder
    erased it meanwhile, the rotation does not bring the words back."""
    desk.organisation("Bangkok Workers Centre")
    for chat, text in ((7340040011, "ค่าจ้างไม่ครบ"), (7340040012, "นายจ้างยึดพาสปอร์ต")):
        desk.post_update(telegram_update(chat, text))
    desk.work()
    held, other = (row[0] for row in desk.sql("SELECT id FROM messages ORDER BY id LIMIT 2"))
    settings = Settings.from_env(product_env)
    content, vault = keyfiles.load_content_ring(settings), keyfiles.load_vault_ring(settings)
    # A ticket closed by a supervisor with a written reason, last touched long ago.
    ticket = desk.sql("SELECT id FROM tickets ORDER BY id LIMIT 1")[0][0]
    reason = content.seal_text(
        "worker unreachable", binding("tickets", "close_reason_sealed", ticket)
    )
    with desk.rt.session() as session:
        session.execute(
            sql_text(
                "UPDATE tickets SET close_reason_sealed = :reason,"
                " updated_at = '2026-01-05 08:00' WHERE id = :id"
            ),
            {"reason": bytes(reason), "id": ticket},
        )
        session.commit()
    ticket_stamp = desk.sql("SELECT updated_at FROM tickets ORDER BY id")
    new_content = keyfiles.append_key(Path(product_env["VOICEDESK_CONTENT_KEYS_FILE"]))
    keyfiles.append_key(Path(product_env["VOICEDESK_VAULT_KEYS_FILE"]))
    columns = sealed_columns(content, vault, EnvelopeKeys(vault))

    with psycopg.connect(database_url) as worker:
        worker.execute("SELECT 1 FROM messages WHERE id = %s FOR UPDATE", (held,))
        with desk.rt.session() as session:
            first = reseal(session, columns, give_up_at=time.monotonic() + 1, pause=0.2)
        assert first.left == {"messages.text_sealed": 1}
        assert _key_ids(desk, "messages", "text_sealed") >= {new_content}
        worker.execute("UPDATE messages SET text_sealed = NULL WHERE id = %s", (held,))
        worker.commit()  # as an erasure would, then let go

    with desk.rt.session() as session:
        second = reseal(session, columns, pause=0.2)
    assert second.left == {}
    assert desk.sql("SELECT text_sealed FROM messages WHERE id = :id", id=held) == [(None,)]
    assert desk.sql("SELECT count(*) FROM messages WHERE id = :id", id=other) == [(1,)]
    assert _key_ids(desk, "messages", "text_sealed") == {new_content}
    # Re-sealed, and re-sealing is not an edit: the ticket's last change stays where it was.
    assert _key_ids(desk, "tickets", "close_reason_sealed") == {new_content}
    assert desk.sql("SELECT updated_at FROM tickets ORDER BY id") == ticket_stamp
