"""Asking a worker to validate, on the embedded SQLite database: a new question takes the
place of an unanswered one, and a first question costs no search for one."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from intake import validation
from intake.db import make_engine, make_sessionmaker, utcnow
from intake.models import Organisation, Ticket, TicketStatus, User, Validation, Worker
from intake.schema import upgrade
from intake.settings import ValidationSchedule
from safeguards.sealing import KeyRing

RING = KeyRing("content", "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode())
SCHEDULE = ValidationSchedule()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'validation.sqlite3'}")
    upgrade(engine)
    with make_sessionmaker(engine)() as db:
        organisation = Organisation(name="Mae Sot Migrant Centre", languages=["my"])
        db.add(organisation)
        db.flush()
        db.add(
            User(
                email="cw@maesot.example",
                organisation_id=organisation.id,
                role="caseworker",
                password_hash="-",
            )
        )
        worker = Worker(id=uuid.uuid4(), pseudonym="WTESTVALIDATION", channel="telegram")
        worker.language = "my"
        db.add(worker)
        db.flush()
        db.add(
            Ticket(
                ref="K7M4-Q9P2",
                status=TicketStatus.IN_REMEDIATION.value,
                language="my",
                channel="telegram",
                organisation_id=organisation.id,
                worker_id=worker.id,
            )
        )
        db.flush()
        yield db
    engine.dispose()


def _staff_and_ticket(session: Session) -> tuple[User, Ticket]:
    return session.scalars(select(User)).one(), session.scalars(select(Ticket)).one()


def _ask(session: Session) -> Validation:
    user, ticket = _staff_and_ticket(session)
    validation.request_validation(session, RING, user, ticket, "the wages were paid", SCHEDULE)
    session.flush()
    found = validation.latest(session, ticket)
    assert found is not None
    return found


def test_asking_again_withdraws_the_unanswered_question(session: Session) -> None:
    first = _ask(session)
    second = _ask(session)
    session.refresh(first)
    assert (first.status, first.awaiting, first.next_due_at) == ("withdrawn", None, None)
    assert (second.status, second.awaiting) == ("requested", validation.AWAITING_ANSWER)


def test_a_call_recorded_after_a_chat_question_withdraws_the_question(session: Session) -> None:
    asked = _ask(session)
    user, ticket = _staff_and_ticket(session)
    validation.record_by_phone(session, user, ticket, "fixed", 4)
    session.flush()
    session.refresh(asked)
    assert (asked.status, asked.awaiting) == ("withdrawn", None)
    assert ticket.validation_status == "validated"


def test_the_first_question_on_a_ticket_updates_no_earlier_one(session: Session) -> None:
    # A round asks thousands of workers for the first time: no search for a question
    # to withdraw when the ticket was never asked.
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        asked = _ask(session)
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    assert asked.status == "requested"
    assert asked.requested_at <= utcnow()
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE VALIDATIONS")]
