"""The append-only audit log: every entry carries the hash of the one before it.

Changing, removing or reordering an entry breaks the chain, which `verify_chain`
reports. PostgreSQL also refuses UPDATE and DELETE on the table (see the migration).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.models import AuditEntry

GENESIS = "0" * 64
# Any fixed number: every writer of the audit log takes this transaction lock.
_AUDIT_LOCK = 7_316_001


def _entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = json.dumps(
        {
            "at": entry.at.astimezone(dt.UTC).isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "detail": entry.detail,
        },
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    **detail: Any,
) -> AuditEntry:
    """Append an audit entry (ids and pseudonyms only, never text or addresses)."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers so the chain never forks; released at commit.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})
    last = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    prev = last or GENESIS
    entry = AuditEntry(
        at=utcnow().replace(microsecond=0),
        actor=actor,
        action=action,
        target=target,
        detail=detail,
        prev_hash=prev,
    )
    entry.entry_hash = _entry_hash(prev, entry)
    session.add(entry)
    session.flush()
    return entry


def verify_chain(entries: Iterable[AuditEntry]) -> int | None:
    """Return the id of the first entry that breaks the chain, or None if it holds."""
    prev = GENESIS
    for entry in entries:
        if entry.prev_hash != prev or _entry_hash(prev, entry) != entry.entry_hash:
            return entry.id
        prev = entry.entry_hash
    return None


def verify_log(session: Session) -> int | None:
    return verify_chain(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def browse(
    session: Session,
    actors: Iterable[str] | None,
    *,
    action: str | None = None,
    target: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries newest first, by these actors (None: everyone), paged by id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actors is not None:
        query = query.where(AuditEntry.actor.in_(list(actors)))
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if target:
        query = query.where(AuditEntry.target == target)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))
