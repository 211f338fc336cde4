"""The simulator's transcript: what a simulated worker sent and what the bot answered."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.models import Direction, SimulatorLine
from safeguards.sealing import KeyRing, binding


def _chat_key(chat: str) -> str:
    # The simulated address is random, but it is still an address: store only its hash.
    return hashlib.sha256(chat.encode()).hexdigest()[:64]


@dataclass(frozen=True)
class Line:
    direction: str
    text: str = field(repr=False)


def record_line(
    session: Session, ring: KeyRing, chat: str, direction: Direction, text: str
) -> None:
    line_id = uuid.uuid4()
    session.add(
        SimulatorLine(
            id=line_id,
            chat=_chat_key(chat),
            direction=direction.value,
            text_sealed=ring.seal_text(text, binding("simulator_lines", "text_sealed", line_id)),
            created_at=utcnow(),
        )
    )


def transcript(session: Session, ring: KeyRing, chat: str) -> list[Line]:
    rows = session.scalars(
        select(SimulatorLine)
        .where(SimulatorLine.chat == _chat_key(chat))
        .order_by(SimulatorLine.created_at)
    )
    return [
        Line(
            row.direction,
            ring.open_text(row.text_sealed, binding("simulator_lines", "text_sealed", row.id)),
        )
        for row in rows
    ]
