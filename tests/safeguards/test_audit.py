"""The audit log: any edit or removal of an entry is found by verify_log."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from intake.models import AuditEntry
from safeguards.audit import GENESIS, _entry_hash, record, verify_chain, verify_log


@pytest.fixture
def entries(session: Session) -> list[AuditEntry]:
    written = [
        record(session, "caseworker:12", "ticket.view", "ticket:K7M4-Q9P2"),
        record(session, "caseworker:12", "ticket.status", "ticket:K7M4-Q9P2", to="triaged"),
        record(session, "admin:1", "user.disable", "user:12", reason="left the organisation"),
    ]
    session.commit()
    return written


def reread(session: Session) -> None:
    """Forget what the session holds, so verify_log reads what the database now holds."""
    session.expire_all()


def test_untouched_log_read_back_from_the_database_verifies(
    session: Session, entries: list[AuditEntry]
) -> None:
    reread(session)

    assert verify_log(session) is None
    assert session.scalar(select(AuditEntry.detail).where(AuditEntry.id == entries[2].id)) == {
        "reason": "left the organisation"
    }


def test_each_entry_carries_the_hash_of_the_one_before(entries: list[AuditEntry]) -> None:
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[2].prev_hash == entries[1].entry_hash
    assert len({entry.entry_hash for entry in entries}) == 3


def test_entries_added_later_extend_the_chain(session: Session, entries: list[AuditEntry]) -> None:
    later = record(session, "worker:WQ4LZ7", "message.in", "ticket:K7M4-Q9P2")
    session.commit()
    reread(session)

    assert later.prev_hash == entries[-1].entry_hash
    assert verify_log(session) is None


def test_log_read_back_in_another_time_zone_still_verifies(session: Session) -> None:
    written = [
        record(session, "caseworker:12", "ticket.view", "ticket:K7M4-Q9P2"),
        record(session, "admin:1", "user.disable", "user:12"),
    ]
    # PostgreSQL hands timestamptz back in the server's TimeZone (say Asia/Bangkok):
    # the same instants, written differently.
    bangkok = dt.timezone(dt.timedelta(hours=7))
    read_back = [
        AuditEntry(
            id=entry.id,
            at=entry.at.astimezone(bangkok),
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            detail=entry.detail,
            prev_hash=entry.prev_hash,
            entry_hash=entry.entry_hash,
        )
        for entry in written
    ]

    assert read_back[0].at == written[0].at
    assert verify_chain(written) is None
    assert verify_chain(read_back) is None


def test_edited_detail_is_reported_at_that_entry(
    session: Session, entries: list[AuditEntry]
) -> None:
    session.execute(
        update(AuditEntry).where(AuditEntry.id == entries[1].id).values(detail={"to": "closed"})
    )
    session.commit()
    reread(session)

    assert verify_log(session) == entries[1].id


def test_edited_actor_is_reported_at_that_entry(
    session: Session, entries: list[AuditEntry]
) -> None:
    session.execute(
        update(AuditEntry).where(AuditEntry.id == entries[2].id).values(actor="caseworker:12")
    )
    session.commit()
    reread(session)

    assert verify_log(session) == entries[2].id


def test_deleted_middle_entry_is_detected(session: Session, entries: list[AuditEntry]) -> None:
    session.execute(delete(AuditEntry).where(AuditEntry.id == entries[1].id))
    session.commit()
    reread(session)

    assert verify_log(session) == entries[2].id


def test_edit_with_its_hash_recomputed_is_still_detected_at_the_next_entry(
    session: Session, entries: list[AuditEntry]
) -> None:
    forged = entries[1]
    forged.detail = {"to": "closed"}
    forged.entry_hash = _entry_hash(forged.prev_hash, forged)
    session.commit()
    reread(session)

    assert verify_log(session) == entries[2].id
