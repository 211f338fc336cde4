"""The bot's side of a conversation, on the embedded SQLite database."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.base import InboundMessage
from intake import conversation, tickets
from intake.db import make_engine, make_sessionmaker
from intake.models import InboundEnvelope, Message, Organisation, Ticket, TicketStatus, Worker
from intake.routing import NoOrganisation
from intake.schema import upgrade
from safeguards.sealing import KeyRing, Sealed
from translations.scripts import detect_language


def _ring(name: str) -> KeyRing:
    return KeyRing(name, "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode())


KEYS = conversation.IntakeKeys(
    content=_ring("content"), vault=_ring("vault"), pepper=os.urandom(32)
)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'intake.sqlite3'}")
    upgrade(engine)  # the Alembic migrations, as `voicedesk init` runs them
    with make_sessionmaker(engine)() as db:
        db.add_all(
            [
                Organisation(name="Mae Sot Migrant Centre", languages=["my"]),
                Organisation(name="Phnom Penh Desk", languages=["km"]),
            ]
        )
        db.flush()
        yield db
    engine.dispose()


def say(
    session: Session,
    text: str | None,
    address: str = "7340070001",
    channel: str = "telegram",
    hint: str | None = None,
) -> tuple[Ticket, list[Message]]:
    envelope = InboundEnvelope(
        id=uuid.uuid4(),
        channel=channel,
        provider_message_id=uuid.uuid4().hex,
        payload_sealed=Sealed(b"S1\x01x"),
    )
    session.add(envelope)
    session.flush()
    inbound = InboundMessage(
        channel=channel,
        provider_message_id=uuid.uuid4().hex,
        address=address,
        kind="text",
        text=text,
        language_hint=hint,
    )
    replies = conversation.receive(session, KEYS, inbound, envelope.id).replies
    session.flush()
    ticket = session.get_one(Ticket, replies[0].ticket_id)
    return ticket, replies


def reply_text(message: Message) -> str:
    text = tickets.message_text(KEYS.content, message)
    assert text is not None
    return text


def test_first_message_opens_a_ticket_routed_by_language_and_answers_in_that_script(
    session: Session,
) -> None:
    ticket, replies = say(session, "ខ្ញុំមិនទាន់បានប្រាក់ខែ")
    assert ticket.language == "km"
    assert ticket.organisation.name == "Phnom Penh Desk"
    assert ticket.status == TicketStatus.NEW.value
    answer = reply_text(replies[0])
    assert detect_language(answer) == "km"
    assert ticket.ref in answer


def test_next_message_joins_the_same_ticket_and_says_so(session: Session) -> None:
    first, _ = say(session, "မင်္ဂလာပါ")
    second, replies = say(session, "လစာ မရသေးပါ")
    assert first.id == second.id
    assert reply_text(replies[0]) == f"သင့်စာကို ကိစ္စ {first.ref} မှာ ထည့်ထားပါပြီ။"


def test_unknown_language_gets_the_menu_and_a_local_digit_chooses(session: Session) -> None:
    ticket, replies = say(session, "hello")
    assert ticket.language is None
    assert replies[0].options == ["မြန်မာ", "ខ្មែរ", "नेपाली", "ไทย", "English"]
    ticket, replies = say(session, "၂")  # "2" in Burmese digits: Khmer
    assert ticket.language == "km"
    assert detect_language(reply_text(replies[0])) == "km"
    assert ticket.ref in reply_text(replies[0])
    worker = session.scalars(select(Worker)).one()
    assert (worker.language, worker.awaiting) == ("km", None)


def test_writing_in_a_script_after_the_menu_gets_the_full_acknowledgement(
    session: Session,
) -> None:
    ticket, _ = say(session, "👋")
    ticket, replies = say(session, "नमस्ते")
    assert ticket.language == "ne"
    answer = reply_text(replies[0])
    assert ticket.ref in answer
    assert answer.startswith("धन्यवाद।")


def test_out_of_range_answer_to_the_menu_asks_again(session: Session) -> None:
    say(session, "hi")
    _, replies = say(session, "9")
    assert len(replies[0].options) == 5


def test_english_choice_answers_in_english(session: Session) -> None:
    say(session, "hi")
    _, replies = say(session, "5")
    assert reply_text(replies[0]).startswith("Thank you.")


def test_zawgyi_text_is_stored_as_unicode(session: Session) -> None:
    ticket, _ = say(session, "ေက်းဇူးျပဳၿပီး ကူညီပါ")
    inbound = session.scalars(select(Message).where(Message.direction == "in")).one()
    assert tickets.message_text(KEYS.content, inbound) == "ကျေးဇူးပြုပြီး ကူညီပါ"
    assert ticket.language == "my"


def test_closed_ticket_is_not_reopened_a_new_one_starts(session: Session) -> None:
    first, _ = say(session, "สวัสดี")
    first.status = TicketStatus.CLOSED.value
    session.flush()
    second, replies = say(session, "สวัสดีอีกครั้ง")
    assert second.id != first.id
    assert second.ref in reply_text(replies[0])


def test_same_number_on_another_channel_is_another_worker(session: Session) -> None:
    say(session, "สวัสดี", address="777", channel="telegram")
    say(session, "สวัสดี", address="777", channel="simulator")
    assert session.query(Worker).count() == 2
    assert session.query(Ticket).count() == 2


def test_no_organisation_means_the_envelope_waits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    upgrade(engine)
    with make_sessionmaker(engine)() as db, pytest.raises(NoOrganisation):
        say(db, "สวัสดี")
    engine.dispose()
