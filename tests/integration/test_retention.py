"""Retention: a closed ticket's content is forgotten after the period, its counts kept.

Three Telegram workers tell the desk about unpaid wages. Staff note, plan remediation
and close every ticket (a supervisor, with a written reason). Then the clock is
moved: two tickets closed 400 days ago, one 10 days ago; one of the old tickets'
workers has written again since, so has an open ticket.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import select

from console.cli import create_user
from intake import notes, remediation, triage
from intake.models import Ticket, User, Worker
from intake.settings import Settings
from safeguards.pseudonyms import pseudonym_for
from translations.words import COMMANDS, YES
from workers import jobs

from integration.conftest import PASSWORD, open_desk
from support.builders import telegram_update
from support.telegram_stub import TelegramStub

OLD, RECENT, RETURNING = 7340095001, 7340095002, 7340095003


def _ticket_of(session, desk, chat: int) -> Ticket:
    pseudonym = pseudonym_for(desk.rt.keys.pepper, "telegram", str(chat))
    worker = session.scalars(select(Worker).where(Worker.pseudonym == pseudonym)).one()
    return session.scalars(
        select(Ticket).where(Ticket.worker_id == worker.id).order_by(Ticket.id)
    ).first()


def _staff_write_about(session, desk, ticket: Ticket) -> User:
    ring = desk.rt.keys.content
    supervisor = session.scalars(select(User).where(User.email == "s@bwc.org")).one()
    notes.add_note(session, ring, supervisor, ticket, "Worker's cousin also at this site")
    remediation.add_action(
        session, ring, supervisor, ticket, "Repay 12,000 THB fee", "HR Khun Somchai",
        dt.date(2025, 1, 31),
    )  # fmt: skip
    return supervisor


def _close_with_content(desk, chat: int, closed_days_ago: int) -> int:
    ring = desk.rt.keys.content
    with desk.rt.session() as session:
        ticket = _ticket_of(session, desk, chat)
        # Remediation ran, the worker was asked and the deadline passed without an answer.
        ticket.status, ticket.validation_status = "awaiting_validation", "unvalidated"
        supervisor = _staff_write_about(session, desk, ticket)
        triage.close_ticket(session, ring, supervisor, ticket, "Worker moved away, no answer")
        ticket.closed_at = ticket.closed_at - dt.timedelta(days=closed_days_ago)
        session.commit()
        return ticket.id


def _content_left(desk, ticket_id: int) -> dict[str, int]:
    one = {"id": ticket_id}
    return {
        "texts": desk.sql(
            "SELECT count(*) FROM messages WHERE ticket_id = :id AND text_sealed IS NOT NULL", **one
        )[0][0],
        "notes": desk.sql("SELECT count(*) FROM notes WHERE ticket_id = :id", **one)[0][0],
        "reason": desk.sql(
            "SELECT count(*) FROM tickets WHERE id = :id AND close_reason_sealed IS NOT NULL", **one
        )[0][0],
        "raw": desk.sql(
            "SELECT count(*) FROM inbound_envelopes e JOIN messages m ON m.envelope_id = e.id"
            " WHERE m.ticket_id = :id AND e.outcome <> 'erased'",
            **one,
        )[0][0],
    }


def test_closed_tickets_lose_their_content_after_the_period_and_keep_their_counts(
    settings: Settings, product_env: dict[str, str], telegram_stub: TelegramStub
) -> None:
    with open_desk(settings) as desk:
        desk.organisation("Bangkok Workers Centre", ["th"])
        with desk.rt.session() as session:
            create_user(session, "s@bwc.org", "Bangkok Workers Centre", "supervisor", PASSWORD)
            session.commit()
        for chat in (OLD, RECENT, RETURNING):
            desk.post_update(telegram_update(chat, "นายจ้างไม่จ่ายค่าจ้างสามเดือน"))
            desk.work()
        old = _close_with_content(desk, OLD, 400)
        recent = _close_with_content(desk, RECENT, 10)
        returning = _close_with_content(desk, RETURNING, 400)
        desk.post_update(telegram_update(RETURNING, "ยังไม่ได้เงินค่ะ"))  # a new, open ticket
        desk.work()
        kept = {"texts": 2, "notes": 1, "reason": 1, "raw": 1}
        assert _content_left(desk, old) == kept

        # As an operator runs it (VOICEDESK_RETENTION_DAYS unset: the default year).
        done = subprocess.run(
            [sys.executable, "-c", "from console.cli import main; main()", "purge"],
            env={**os.environ, **product_env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "purged 2 closed tickets and 1 addresses (retention 365 days)\n"

        gone = {"texts": 0, "notes": 0, "reason": 0, "raw": 0}
        assert _content_left(desk, old) == gone
        assert _content_left(desk, returning) == gone
        assert _content_left(desk, recent) == kept
        # The action still counts (its due date), its words are the empty text.
        with desk.rt.session() as session:
            actions = remediation.actions_of(
                session, desk.rt.keys.content, session.get(Ticket, old)
            )
        assert [(a.text, a.owner, a.due_on) for a in actions] == [("", "", dt.date(2025, 1, 31))]
        # What the network counts stays: three closed tickets, their language and channel.
        assert desk.sql(
            "SELECT count(*) FROM tickets WHERE status = 'closed' AND language = 'th'"
        )[0][0] == 3  # fmt: skip
        # Only the worker with nothing open is unreachable now; the others can be written to.
        reachable = desk.sql("SELECT count(*) FROM vault_entries")[0][0]
        assert reachable == 2
        assert (
            desk.sql("SELECT count(*) FROM audit_log WHERE action = 'retention.purge'")[0][0] == 1
        )

        # A second run finds nothing more to do.
        assert jobs.purge() == jobs.Purged(0, 0)
        assert (
            desk.sql("SELECT count(*) FROM audit_log WHERE action = 'retention.purge'")[0][0] == 1
        )


def test_a_worker_who_asks_to_be_erased_takes_staff_notes_and_plans_with_them(
    desk, telegram_stub: TelegramStub
) -> None:
    """Erasure forgets every free text on the worker's tickets, not only their own words."""
    desk.organisation("Bangkok Workers Centre", ["th"])
    with desk.rt.session() as session:
        create_user(session, "s@bwc.org", "Bangkok Workers Centre", "supervisor", PASSWORD)
        session.commit()
    desk.post_update(telegram_update(OLD, "นายจ้างยึดพาสปอร์ตของฉัน"))
    desk.work()
    with desk.rt.session() as session:
        ticket = _ticket_of(session, desk, OLD)
        _staff_write_about(session, desk, ticket)
        session.commit()
        ticket_id = ticket.id
    for said in (COMMANDS["erase"]["th"][-1], YES["th"][0]):
        desk.post_update(telegram_update(OLD, said))
        desk.work()

    assert _content_left(desk, ticket_id) == {"texts": 0, "notes": 0, "reason": 0, "raw": 0}
    with desk.rt.session() as session:
        actions = remediation.actions_of(
            session, desk.rt.keys.content, session.get(Ticket, ticket_id)
        )
    assert [(a.text, a.owner) for a in actions] == [("", "")]
    assert desk.sql("SELECT count(*) FROM vault_entries")[0][0] == 0
