"""The contact vault: a worker's channel address, sealed under the vault key ring."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.models import VaultEntry
from safeguards.sealing import KeyRing, binding


def _aad(entry_id: uuid.UUID) -> bytes:
    return binding("vault_entries", "address_sealed", entry_id)


def vault_entry(session: Session, worker_id: uuid.UUID, channel: str) -> VaultEntry | None:
    """The worker's vault entry for one channel, if there is one."""
    return session.scalar(
        select(VaultEntry).where(VaultEntry.worker_id == worker_id, VaultEntry.channel == channel)
    )


def remember_address(
    session: Session, ring: KeyRing, worker_id: uuid.UUID, channel: str, address: str
) -> VaultEntry:
    """Keep the worker's address for this channel (the only way to write back to them).

    Returns the entry, kept or new, so the caller can mark it without reading it again.
    """
    entry = vault_entry(session, worker_id, channel)
    if entry is not None:
        return entry
    entry_id = uuid.uuid4()
    entry = VaultEntry(
        id=entry_id,
        worker_id=worker_id,
        channel=channel,
        address_sealed=ring.seal_text(address, _aad(entry_id)),
        updated_at=utcnow(),
    )
    session.add(entry)
    return entry


def address_for(session: Session, ring: KeyRing, worker_id: uuid.UUID, channel: str) -> str | None:
    """Open the worker's address on a channel, or None if the vault has none."""
    entry = vault_entry(session, worker_id, channel)
    if entry is None:
        return None
    return ring.open_text(entry.address_sealed, _aad(entry.id))
