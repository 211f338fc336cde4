"""Webhooks: verify, store one sealed envelope, queue its id, answer. Nothing more.

The one exception is a provider's news about a message we sent (delivered, read,
failed): that is a single UPDATE of the message's status, done here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import cast

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from bots import ivr
from bots.base import Forbidden, Malformed, provider_id
from bots.twilio import form, with_step
from console.auth import public
from console.context import channels, db, dispatcher, settings
from intake.db import utcnow
from intake.delivery import apply_status
from intake.envelopes import (
    SEALER_LIFETIME_SECONDS,
    NoEnvelopeKey,
    current_envelope_key,
    store_envelope,
)
from safeguards.sealing import EnvelopeSealer
from translations.scripts import WORKER_LANGUAGES

logger = logging.getLogger(__name__)
blueprint = Blueprint("hooks", __name__)


def error(status: int, message: str, detail: str = "") -> tuple[Response, int]:
    return jsonify(error=message, detail=detail), status


def _envelope_sealer() -> EnvelopeSealer:
    """The sealer for the current envelope key, looked up again every few seconds.

    A new sealer each time also means a new ephemeral key pair as often.
    """
    cache = current_app.extensions["voicedesk"]
    cached = cache.get("envelope_sealer")
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]  # type: ignore[no-any-return]
    sealer = EnvelopeSealer(current_envelope_key(db()), lifetime=SEALER_LIFETIME_SECONDS)
    cache["envelope_sealer"] = (sealer, time.monotonic() + SEALER_LIFETIME_SECONDS)
    return sealer


def _read_body(channel_name: str) -> bytes | tuple[Response, int]:
    if channel_name not in channels():
        return error(404, "channel off", f"{channel_name} is not configured")
    limit = settings().max_webhook_bytes
    if request.content_length is not None and request.content_length > limit:
        return error(413, "too large", f"the body is over {limit} bytes")
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        return error(413, "too large", f"the body is over {limit} bytes")


def _called_url() -> str:
    """The URL the provider signed: our public base, the path and any query string."""
    query = request.query_string.decode()
    return settings().public_base_url + request.path + (f"?{query}" if query else "")


def receive(channel_name: str, status_only: bool = False) -> tuple[Response, int]:
    """The one path every provider's delivery takes into the database."""
    body = _read_body(channel_name)
    if not isinstance(body, bytes):
        return body
    # Werkzeug's headers look names up case-insensitively, as HTTP requires.
    headers = cast(Mapping[str, str], request.headers)
    return accept(channel_name, body, headers, _called_url(), status_only=status_only)


def _store(channel_name: str, provider_id: str, body: bytes) -> tuple[Response, int]:
    try:
        key = _envelope_sealer()
        with current_app.extensions["voicedesk"]["hook_engine"].connect() as connection:
            envelope_id = store_envelope(connection, channel_name, provider_id, body, key)
    except (SQLAlchemyError, NoEnvelopeKey):
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


def accept(
    channel_name: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    status_only: bool = False,
) -> tuple[Response, int]:
    """Verify a delivery, then apply a status, answer at once, or store it sealed."""
    channel = channels()[channel_name]
    try:
        channel.verify(headers, body, url)
    except Forbidden:
        logger.warning("%s webhook: authenticity check failed", channel_name)
        return error(403, "forbidden", "the request is not signed by the provider")
    try:
        update = channel.status_update(body)
        if update is None and status_only:
            raise Malformed("not a delivery status callback")
        reply = None if update else channel.instant_reply(body)
        key = None if update or reply is not None else channel.envelope_key(body)
        if update is not None:
            provider_id(update.provider_message_id, "a status callback's message id")
        if key is not None:
            provider_id(key, f"a {channel_name} delivery's id")
            channel.parse(body)  # a payload the worker job could not read is refused now
    except Malformed as exc:
        return error(400, "malformed", str(exc))
    if update is not None:
        session = db()
        try:
            apply_status(session, (channel.channel_for(body),), update)
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            logger.exception("%s status callback: storage unavailable", channel_name)
            return error(503, "storage unavailable", "try again later")
        return jsonify(ok=True), 200
    if reply is not None:
        return jsonify(reply), 200
    assert key is not None
    return _store(channel.channel_for(body), key, body)


@blueprint.post("/hooks/telegram")
@public
def telegram() -> tuple[Response, int]:
    return receive("telegram")


@blueprint.post("/hooks/twilio/messaging")
@public
def twilio_messaging() -> tuple[Response, int]:
    return receive("sms")


@blueprint.post("/hooks/twilio/status")
@public
def twilio_status() -> tuple[Response, int]:
    return receive("sms", status_only=True)


@blueprint.post("/hooks/viber")
@public
def viber() -> tuple[Response, int]:
    return receive("viber")


# --- the hotline ------------------------------------------------------------------


def _twiml(xml: str) -> tuple[Response, int]:
    return Response(xml, mimetype="text/xml"), 200


def _voice_step(
    step: str, language: str | None, digits: bool = False
) -> tuple[Response, int] | None:
    """Verify a voice callback and store it as one step of the call; None when stored.

    A caller is on the line: if storage fails the IVR goes on all the same (the
    error is logged), because hanging up on a worker in trouble is worse.
    """
    body = _read_body("voice")
    if not isinstance(body, bytes):
        return body
    channel = channels()["voice"]
    headers = cast(Mapping[str, str], request.headers)
    try:
        channel.verify(headers, body, _called_url())
    except Forbidden:
        logger.warning("voice webhook: authenticity check failed")
        return error(403, "forbidden", "the request is not signed by Twilio")
    if digits:  # read the caller's key press only once the request is proven Twilio's
        language = ivr.language_of_digit(form(body).get("Digits"))
    stepped = with_step(body, step, language)
    try:
        key = provider_id(channel.envelope_key(stepped), "a hotline callback's id")
    except Malformed as exc:
        return error(400, "malformed", str(exc))
    response, status = _store("voice", key, stepped)
    if status != 200:
        logger.error("voice step %s could not be stored; the call goes on", step)
        return None if step not in {"recording", "ended"} else (response, status)
    return None


def _hotline_urls(language: str | None) -> dict[str, str]:
    base = settings().public_base_url + "/hooks/twilio/voice"
    suffix = f"?lang={language}" if language else ""
    return {
        "dial_result_url": f"{base}/dial-result{suffix}",
        "voicemail_url": f"{base}/voicemail{suffix}",
        "recording_url": f"{base}/recording{suffix}",
    }


def _language_param() -> str | None:
    language = request.args.get("lang")
    return language if language in WORKER_LANGUAGES else None


@blueprint.post("/hooks/twilio/voice")
@public
def voice_start() -> tuple[Response, int]:
    hotline = settings().hotline
    if hotline is None:
        return error(404, "channel off", "the hotline is not configured")
    failed = _voice_step("started", None)
    if failed is not None:
        return failed
    return _twiml(ivr.menu(hotline, settings().public_base_url + "/hooks/twilio/voice/language"))


@blueprint.post("/hooks/twilio/voice/language")
@public
def voice_language() -> tuple[Response, int]:
    hotline = settings().hotline
    if hotline is None:
        return error(404, "channel off", "the hotline is not configured")
    failed = _voice_step("language", None, digits=True)
    if failed is not None:
        return failed
    body = request.get_data(cache=True)
    language = ivr.language_of_digit(form(body).get("Digits"))
    return _twiml(
        ivr.connect_or_record(
            hotline, language, utcnow(), form(body).get("To"), **_hotline_urls(language)
        )
    )


@blueprint.post("/hooks/twilio/voice/dial-result")
@public
def voice_dial_result() -> tuple[Response, int]:
    hotline = settings().hotline
    if hotline is None:
        return error(404, "channel off", "the hotline is not configured")
    language = _language_param()
    failed = _voice_step("dial_result", language)
    if failed is not None:
        return failed
    if form(request.get_data(cache=True)).get("DialCallStatus") == "completed":
        return _twiml(ivr.hang_up())
    urls = _hotline_urls(language)
    return _twiml(ivr.record(hotline, language, urls["voicemail_url"], urls["recording_url"]))


@blueprint.post("/hooks/twilio/voice/voicemail")
@public
def voice_voicemail() -> tuple[Response, int]:
    hotline = settings().hotline
    if hotline is None:
        return error(404, "channel off", "the hotline is not configured")
    language = _language_param()
    failed = _voice_step("voicemail_left", language)
    if failed is not None:
        return failed
    return _twiml(ivr.goodbye(hotline, language))


@blueprint.post("/hooks/twilio/voice/recording")
@public
def voice_recording() -> tuple[Response, int]:
    failed = _voice_step("recording", _language_param())
    return failed if failed is not None else (jsonify(ok=True), 200)


@blueprint.post("/hooks/twilio/voice/status")
@public
def voice_status() -> tuple[Response, int]:
    failed = _voice_step("ended", None)
    return failed if failed is not None else (jsonify(ok=True), 200)
