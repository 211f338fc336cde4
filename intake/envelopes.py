"""Inbound envelopes: the webhook's one durable write, and the keys it seals to."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.models import EnvelopeKey, InboundEnvelope
from safeguards.sealing import EnvelopeKeys, EnvelopePublicKey, binding


class NoEnvelopeKey(RuntimeError):
    """No worker has published an envelope key yet; run `voicedesk init` or start a worker."""


def envelope_binding(envelope_id: uuid.UUID) -> bytes:
    return binding("inbound_envelopes", "payload_sealed", envelope_id)


def store_envelope(
    session: Session,
    channel: str,
    provider_message_id: str,
    payload: bytes,
    key: EnvelopePublicKey,
) -> uuid.UUID | None:
    """Seal and insert one delivery; return its id, or None if it was stored before."""
    envelope_id = uuid.uuid4()
    sealed = key.seal(payload, envelope_binding(envelope_id))
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(InboundEnvelope)
        .values(
            id=envelope_id,
            channel=channel,
            provider_message_id=provider_message_id,
            payload_sealed=sealed,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
        .returning(InboundEnvelope.id)
    )
    return session.execute(statement).scalar_one_or_none()


def open_envelope(envelope: InboundEnvelope, keys: EnvelopeKeys) -> bytes:
    return keys.open(envelope.payload_sealed, envelope_binding(envelope.id))


def publish_envelope_keys(session: Session, keys: EnvelopeKeys) -> None:
    """Publish the public halves of the envelope keys; the newest is the one to seal to."""
    published = {row.kid: row for row in session.scalars(select(EnvelopeKey))}
    current = keys.current().kid
    for public in keys.public_keys():
        row = published.get(public.kid)
        if row is None:
            session.add(EnvelopeKey(kid=public.kid, public_key=public.public, is_current=False))
    session.flush()
    session.execute(update(EnvelopeKey).values(is_current=EnvelopeKey.kid == current))


def current_envelope_key(session: Session) -> EnvelopePublicKey:
    row = session.scalar(select(EnvelopeKey).where(EnvelopeKey.is_current.is_(True)))
    if row is None:
        raise NoEnvelopeKey("no envelope key is published")
    return EnvelopePublicKey(row.kid, row.public_key)
