"""Internal notes on a ticket: sealed like the worker's words, never sent to the worker."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.errors import Invalid
from intake.models import Note, Ticket, User
from safeguards import audit
from safeguards.access import require
from safeguards.sealing import KeyRing, binding
from translations.i18n import N_

MAX_NOTE = 10_000


def note_binding(note_id: uuid.UUID) -> bytes:
    return binding("notes", "text_sealed", note_id)


@dataclass(frozen=True)
class NoteView:
    author: str
    text: str = field(repr=False)
    at: dt.datetime


def add_note(session: Session, ring: KeyRing, user: User, ticket: Ticket, text: str) -> Note:
    """Seal and keep a note on a ticket of the user's queue."""
    require(user, "tickets.note", ticket)
    text = text.strip()
    if not text or len(text) > MAX_NOTE:
        raise Invalid(N_("A note is 1 to 10,000 characters."))
    note_id = uuid.uuid4()
    note = Note(
        id=note_id,
        ticket_id=ticket.id,
        author_user_id=user.id,
        text_sealed=ring.seal_text(text, note_binding(note_id)),
        created_at=utcnow(),
    )
    session.add(note)
    audit.record(session, actor=f"user:{user.id}", action="note.add", target=f"ticket:{ticket.ref}")
    return note


def notes_of(session: Session, ring: KeyRing, ticket: Ticket, reader: User) -> list[NoteView]:
    """Open the notes the reader's organisation wrote on a ticket (the read is audited).

    Notes are an organisation's own working record: a referral hands over the case,
    not what the referring organisation's staff wrote among themselves.
    """
    return [
        NoteView(
            author=email,
            text=ring.open_text(note.text_sealed, note_binding(note.id)),
            at=note.created_at,
        )
        for note, email in session.execute(
            select(Note, User.email)
            .join(User, User.id == Note.author_user_id)
            .where(Note.ticket_id == ticket.id, User.organisation_id == reader.organisation_id)
            .order_by(Note.created_at)
        )
    ]
