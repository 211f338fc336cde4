"""Inbound envelopes: the webhook's one durable write, and the keys it seals to."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.models import EnvelopeKey, InboundEnvelope
from safeguards.sealing import EnvelopeKeys, EnvelopePublicKey, EnvelopeSealer, binding


class NoEnvelopeKey(RuntimeError):
    """No worker has published an envelope key yet; run `voicedesk init` or start a worker."""


# A web process seals to the envelope key it looked up this long ago at most (and makes
# a new ephemeral key pair as often): `keys rotate` waits as long before its last pass.
SEALER_LIFETIME_SECONDS = 10.0

_TABLE = InboundEnvelope.__table__.c
# The webhook's hot path compiles nothing: on PostgreSQL the INSERT goes to psycopg as
# written (which prepares it after a few uses), still through SQLAlchemy's connection
# so a lost connection is noticed and replaced. SQLite (3.35+, the embedded default)
# takes the same statement through SQLAlchemy's types.
_PG_INSERT = (
    "INSERT INTO inbound_envelopes (id, channel, provider_message_id, payload_sealed,"
    " received_at) VALUES (%(id)s, %(channel)s, %(provider_message_id)s,"
    " %(payload_sealed)s, %(received_at)s)"
    " ON CONFLICT (channel, provider_message_id) DO NOTHING RETURNING id"
)
_INSERT = (
    text(
        "INSERT INTO inbound_envelopes (id, channel, provider_message_id, payload_sealed,"
        " received_at) VALUES (:id, :channel, :provider_message_id, :payload_sealed,"
        " :received_at) ON CONFLICT (channel, provider_message_id) DO NOTHING RETURNING id"
    )
    .bindparams(
        bindparam("id", type_=_TABLE.id.type),
        bindparam("payload_sealed", type_=_TABLE.payload_sealed.type),
        bindparam("received_at", type_=_TABLE.received_at.type),
    )
    .columns(_TABLE.id)
)


def envelope_binding(envelope_id: uuid.UUID) -> bytes:
    return binding("inbound_envelopes", "payload_sealed", envelope_id)


def store_envelope(
    executor: Session | Connection,
    channel: str,
    provider_message_id: str,
    payload: bytes,
    key: EnvelopePublicKey | EnvelopeSealer,
) -> uuid.UUID | None:
    """Seal and insert one delivery; return its id, or None if it was stored before.

    The webhook passes a bare Connection in autocommit (one statement, one round trip
    on the hot path); the console's call log passes its Session.
    """
    envelope_id = uuid.uuid4()
    sealed = key.seal(payload, envelope_binding(envelope_id))
    values = {
        "id": envelope_id,
        "channel": channel,
        "provider_message_id": provider_message_id,
        "payload_sealed": sealed,
        "received_at": utcnow(),
    }
    connection = executor.connection() if isinstance(executor, Session) else executor
    if connection.dialect.name == "postgresql":
        values["payload_sealed"] = bytes(sealed)
        result = connection.exec_driver_sql(_PG_INSERT, values)
    else:
        result = connection.execute(_INSERT, values)
    stored: uuid.UUID | None = result.scalar_one_or_none()
    return stored


def open_envelope(envelope: InboundEnvelope, keys: EnvelopeKeys) -> bytes:
    return keys.open(envelope.payload_sealed, envelope_binding(envelope.id))


def publish_envelope_keys(session: Session, keys: EnvelopeKeys) -> None:
    """Publish the public halves of the envelope keys; the newest is the one to seal to."""
    published = {row.kid: row for row in session.scalars(select(EnvelopeKey))}
    current = keys.current().kid
    for public in keys.public_keys():
        if public.kid in published:
            continue
        try:
            with session.begin_nested():
                session.add(EnvelopeKey(kid=public.kid, public_key=public.public, is_current=False))
        except IntegrityError:
            pass  # another process starting beside this one published it first
    session.execute(update(EnvelopeKey).values(is_current=EnvelopeKey.kid == current))


def current_envelope_key(session: Session) -> EnvelopePublicKey:
    row = session.scalar(select(EnvelopeKey).where(EnvelopeKey.is_current.is_(True)))
    if row is None:
        raise NoEnvelopeKey("no envelope key is published")
    return EnvelopePublicKey(row.kid, row.public_key)
