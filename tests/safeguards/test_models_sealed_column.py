"""A sealed column refuses plaintext, so no model can store a worker's words readable."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from intake.models import Message, Organisation, Ticket, Worker
from safeguards.sealing import KeyRing, Sealed, binding

WORKER_TEXT = "my boss took my passport"


@pytest.fixture
def ticket(session: Session) -> Ticket:
    worker = Worker(pseudonym="WABCDEFGHIJKLMNOPQRST", channel="telegram")
    organisation = Organisation(name="Mekong Workers Network")
    session.add_all([worker, organisation])
    session.flush()
    ticket = Ticket(
        ref="K7M4-Q9P2", channel="telegram", organisation_id=organisation.id, worker_id=worker.id
    )
    session.add(ticket)
    session.flush()
    return ticket


def inbound(ticket: Ticket, text_sealed: object) -> Message:
    return Message(
        ticket_id=ticket.id,
        direction="in",
        channel="telegram",
        delivery_status="received",
        text_sealed=text_sealed,
    )


@pytest.mark.parametrize(
    "plaintext", [WORKER_TEXT.encode(), WORKER_TEXT], ids=["plain-bytes", "plain-str"]
)
def test_message_with_plaintext_in_sealed_column_is_refused(
    session: Session, ticket: Ticket, plaintext: bytes | str
) -> None:
    session.add(inbound(ticket, plaintext))

    # SQLAlchemy wraps the column type's TypeError in a StatementError.
    with pytest.raises(StatementError) as refused:
        session.flush()
    assert isinstance(refused.value.orig, TypeError)
    assert "seal the value first" in str(refused.value.orig)


def test_refused_plaintext_is_not_repeated_in_the_error(session: Session, ticket: Ticket) -> None:
    # The error is what ends up in logs and error reports; it must not carry the text it refused.
    session.add(inbound(ticket, WORKER_TEXT.encode()))

    with pytest.raises(StatementError) as refused:
        session.flush()
    assert "passport" not in str(refused.value)


def test_message_with_sealed_text_is_stored_and_read_back_sealed(
    session: Session, ticket: Ticket
) -> None:
    ring = KeyRing("data", f"k1:{base64.urlsafe_b64encode(os.urandom(32)).decode()}")
    message = inbound(ticket, None)
    session.add(message)
    session.flush()
    aad = binding("messages", "text_sealed", message.id)
    message.text_sealed = ring.seal_text(WORKER_TEXT, aad)
    session.flush()
    session.expire_all()

    stored = session.scalar(select(Message.text_sealed).where(Message.id == message.id))

    assert isinstance(stored, Sealed)
    assert b"passport" not in stored
    assert ring.open_text(stored, aad) == WORKER_TEXT


def test_message_without_text_stores_null(session: Session, ticket: Ticket) -> None:
    message = inbound(ticket, None)
    session.add(message)
    session.flush()
    session.expire_all()

    assert session.scalar(select(Message.text_sealed).where(Message.id == message.id)) is None
