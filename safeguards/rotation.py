"""Re-seal every ciphertext under the newest key of its ring (`voicedesk keys rotate`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, bindparam, func, literal, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from intake.models import (
    Attachment,
    InboundEnvelope,
    IncidentReport,
    Message,
    Note,
    Referral,
    RemediationAction,
    SimulatorLine,
    Ticket,
    User,
    Validation,
    VaultEntry,
)
from safeguards.sealing import EnvelopeKeys, KeyRing, Sealed, binding

BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    model: Any
    column: InstrumentedAttribute[Any]
    open: Callable[[bytes, bytes], bytes]
    seal: Callable[[bytes, bytes], Sealed]
    header: Callable[[], bytes]  # how what its ring seals now begins

    @property
    def name(self) -> str:
        return f"{self.model.__tablename__}.{self.column.key}"


@dataclass(frozen=True)
class Resealed:
    counts: dict[str, int]  # values re-sealed, per column
    left: dict[str, int]  # values still under an older key when it gave up
    passes: int


def sealed_columns(content: KeyRing, vault: KeyRing, envelopes: EnvelopeKeys) -> list[SealedColumn]:
    """Every sealed column in the schema, with the ring that seals it."""

    def envelope_seal(plain: bytes, aad: bytes) -> Sealed:
        return envelopes.current().seal(plain, aad)

    return [
        SealedColumn(
            Message, Message.text_sealed, content.open, content.seal, content.sealing_header
        ),
        SealedColumn(
            Attachment, Attachment.data_sealed, content.open, content.seal, content.sealing_header
        ),
        SealedColumn(
            SimulatorLine,
            SimulatorLine.text_sealed,
            content.open,
            content.seal,
            content.sealing_header,
        ),
        SealedColumn(Note, Note.text_sealed, content.open, content.seal, content.sealing_header),
        SealedColumn(
            Referral,
            Referral.reason_sealed,
            content.open,
            content.seal,
            content.sealing_header,
        ),
        SealedColumn(
            Ticket,
            Ticket.close_reason_sealed,
            content.open,
            content.seal,
            content.sealing_header,
        ),
        SealedColumn(
            IncidentReport,
            IncidentReport.text_sealed,
            content.open,
            content.seal,
            content.sealing_header,
        ),
        SealedColumn(
            Validation,
            Validation.summary_sealed,
            content.open,
            content.seal,
            content.sealing_header,
        ),
        SealedColumn(
            RemediationAction,
            RemediationAction.text_sealed,
            content.open,
            content.seal,
            content.sealing_header,
        ),
        SealedColumn(
            RemediationAction,
            RemediationAction.owner_sealed,
            content.open,
            content.seal,
            content.sealing_header,
        ),
        SealedColumn(
            User, User.totp_secret_sealed, content.open, content.seal, content.sealing_header
        ),
        SealedColumn(
            VaultEntry, VaultEntry.address_sealed, vault.open, vault.seal, vault.sealing_header
        ),
        SealedColumn(
            InboundEnvelope,
            InboundEnvelope.payload_sealed,
            envelopes.open,
            envelope_seal,
            envelopes.sealing_header,
        ),
    ]


def _stale(target: SealedColumn) -> ColumnElement[bool]:
    """Values not under the ring's newest key, found by their header, unopened."""
    header = target.header()
    return func.substr(target.column, 1, len(header)) != literal(header, LargeBinary)


def _count_stale(session: Session, target: SealedColumn) -> int:
    query = select(func.count()).select_from(target.model).where(_stale(target))
    return session.scalar(query) or 0


def _one_pass(
    session: Session, target: SealedColumn, progress: Callable[[str, int, int], None]
) -> int:
    """Re-seal, batch by batch, the stale values of one column that nobody holds."""
    table = target.model.__table__
    total = _count_stale(session, target)
    # Re-sealing is not an edit: a column that changes on every update keeps its value.
    unchanged = {c.key: c for c in table.columns if c.onupdate is not None}
    write = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({target.column.key: bindparam("resealed"), **unchanged})
    )
    done = 0
    last = None
    while total:
        query = (
            select(target.model.id, target.column)
            .where(_stale(target))
            .order_by(target.model.id)
            .limit(BATCH)
            # A row a worker holds is left for the next pass: this never waits on a
            # lock while holding one, so it cannot deadlock with the running desk.
            .with_for_update(skip_locked=True)
        )
        if last is not None:
            query = query.where(target.model.id > last)
        rows = session.execute(query).all()
        if not rows:
            break
        resealed = []
        for row_id, blob in rows:
            aad = binding(target.model.__tablename__, target.column.key, row_id)
            resealed.append(
                {"row_id": row_id, "resealed": target.seal(target.open(blob, aad), aad)}
            )
        session.execute(write, resealed)
        session.commit()
        done += len(rows)
        last = rows[-1][0]
        progress(target.name, done, total)
    session.commit()
    return done


def reseal(
    session: Session,
    columns: list[SealedColumn],
    progress: Callable[[str, int, int], None] = lambda name, done, total: None,
    settle_until: float = 0.0,
    give_up_at: float = math.inf,
    pause: float = 1.0,
) -> Resealed:
    """Re-seal every value not under its ring's newest key, while the desk runs on.

    Messages go on arriving as this runs, sealed under the older keys by processes that
    have not looked at their key rings since (a web process looks up the envelope key
    every `SEALER_LIFETIME_SECONDS`), and rows a worker holds are skipped. So passes
    repeat until one that began at `settle_until` (time.monotonic) or later finds
    nothing left under an older key; at `give_up_at` it stops and says what is left
    (still readable: the older keys stay in the rings).
    """
    counts = {target.name: 0 for target in columns}
    passes = 0
    while True:
        began = time.monotonic()
        passes += 1
        for target in columns:
            counts[target.name] += _one_pass(session, target, progress)
        left = {target.name: _count_stale(session, target) for target in columns}
        session.commit()
        left = {name: count for name, count in left.items() if count}
        if not left and began >= settle_until:
            return Resealed(counts, {}, passes)
        if time.monotonic() >= give_up_at:
            return Resealed(counts, left, passes)
        wait = pause if left else max(pause, settle_until - time.monotonic())
        time.sleep(min(wait, max(0.0, give_up_at - time.monotonic())))
