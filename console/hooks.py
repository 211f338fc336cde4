"""Webhooks: verify, store one sealed envelope, queue its id, answer. Nothing more."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import cast

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from bots.base import Forbidden, Malformed
from console.auth import public
from console.context import channels, db, dispatcher, settings
from intake.envelopes import NoEnvelopeKey, current_envelope_key, store_envelope
from safeguards.sealing import EnvelopePublicKey

logger = logging.getLogger(__name__)
blueprint = Blueprint("hooks", __name__)

_KEY_CACHE_SECONDS = 60


def error(status: int, message: str, detail: str = "") -> tuple[Response, int]:
    return jsonify(error=message, detail=detail), status


def _envelope_key() -> EnvelopePublicKey:
    cache = current_app.extensions["voicedesk"]
    cached = cache.get("envelope_key")
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]  # type: ignore[no-any-return]
    key = current_envelope_key(db())
    cache["envelope_key"] = (key, time.monotonic() + _KEY_CACHE_SECONDS)
    return key


def receive(channel_name: str) -> tuple[Response, int]:
    """The one path every provider's delivery takes into the database."""
    channel = channels().get(channel_name)
    if channel is None:
        return error(404, "channel off", f"{channel_name} is not configured")
    limit = settings().max_webhook_bytes
    if request.content_length is not None and request.content_length > limit:
        return error(413, "too large", f"the body is over {limit} bytes")
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return error(413, "too large", f"the body is over {limit} bytes")
    # Werkzeug's headers look names up case-insensitively, as HTTP requires.
    headers = cast(Mapping[str, str], request.headers)
    return accept(channel_name, body, headers, settings().public_base_url + request.path)


def accept(
    channel_name: str, body: bytes, headers: Mapping[str, str], url: str
) -> tuple[Response, int]:
    """Verify a delivery, store it sealed, queue its id; answer as INTERFACE.md says."""
    channel = channels()[channel_name]
    try:
        channel.verify(headers, body, url)
    except Forbidden:
        logger.warning("%s webhook: authenticity check failed", channel_name)
        return error(403, "forbidden", "the request is not signed by the provider")
    try:
        provider_id = channel.envelope_key(body)
    except Malformed as exc:
        return error(400, "malformed", str(exc))
    session = db()
    try:
        envelope_id = store_envelope(session, channel_name, provider_id, body, _envelope_key())
        session.commit()
    except (SQLAlchemyError, NoEnvelopeKey):
        session.rollback()
        logger.exception("%s webhook: storage unavailable", channel_name)
        response, status = error(503, "storage unavailable", "try again later")
        response.headers["Retry-After"] = "30"
        return response, status
    if envelope_id is None:
        return jsonify(ok=True, duplicate=True), 200
    queue = dispatcher()
    if queue is not None:
        queue.enqueue("process_envelope", str(envelope_id))
    return jsonify(ok=True), 200


@blueprint.post("/hooks/telegram")
@public
def telegram() -> tuple[Response, int]:
    return receive("telegram")
