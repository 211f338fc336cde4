"""Hotline call logging: a form for staff on the phone, filed by a worker process.

The caller's number goes into a sealed envelope at once, as a webhook would store
it; the console never keeps, shows or can read it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from console.context import db, dispatcher, settings
from console.guard import allows, signed_in_user
from console.i18n import _
from intake import calls, triage
from intake.envelopes import NoEnvelopeKey, current_envelope_key, store_envelope
from intake.models import InboundEnvelope
from translations.scripts import WORKER_LANGUAGES

blueprint = Blueprint("calls", __name__)
MAX_DURATION_MINUTES = 600


def _form_page(submission: str, form: Mapping[str, Any]) -> str:
    return render_template(
        "call_log.html",
        user=signed_in_user(),
        languages=(*WORKER_LANGUAGES, "en"),
        categories=triage.active_categories(db()),
        submission=submission,
        form=form,
    )


@blueprint.get("/calls/new")
@allows("calls.log")
def new() -> str:
    return _form_page(uuid.uuid4().hex, request.form)


def _form_value() -> calls.CallLog:
    """The form as a CallLog, or a flash message and None-like refusal (ValueError)."""
    user = signed_in_user()
    form = request.form
    anonymous = form.get("anonymous") == "1"
    typed = (form.get("number") or "").strip()
    if anonymous and typed:
        # TRANSLATORS: the call form had both a number and "anonymous" ticked.
        raise ValueError(_("Either type the caller's number or tick anonymous, not both."))
    if not anonymous and not typed:
        # TRANSLATORS: the call form needs a number, or "anonymous" ticked.
        raise ValueError(_("Type the caller's number, or tick anonymous."))
    number = None
    if typed:
        try:
            number = calls.normalise_number(typed, settings().default_region)
        except calls.BadNumber as exc:
            # TRANSLATORS: the typed phone number is not a real number.
            raise ValueError(_("That is not a phone number.")) from exc
    summary = (form.get("summary") or "").strip()
    if not summary or len(summary) > calls.MAX_SUMMARY:
        # TRANSLATORS: the call form needs a summary of what the caller said.
        raise ValueError(_("Write a summary of the call."))
    language = form.get("language") or None
    if language not in (None, *WORKER_LANGUAGES, "en"):
        raise ValueError(_("Please check what you entered."))
    minutes = (form.get("minutes") or "0").strip()
    if not minutes.isdigit() or int(minutes) > MAX_DURATION_MINUTES:
        # TRANSLATORS: the call's length must be a whole number of minutes.
        raise ValueError(_("Give the call's length in whole minutes."))
    try:
        category_ids = tuple(int(v) for v in form.getlist("category"))
    except ValueError:
        abort(400)
    return calls.CallLog(
        user_id=user.id,
        number=number,
        language=language,
        duration_seconds=int(minutes) * 60,
        summary=summary,
        category_ids=category_ids,
        urgent=form.get("urgent") == "1",
    )


@blueprint.post("/calls")
@allows("calls.log")
def log() -> Response | str | tuple[str, int]:
    """Seal the form into an envelope (stored once per form), queue it, show its progress."""
    submission = request.form.get("submission", "")
    if len(submission) != 32 or not submission.isalnum():
        abort(400)
    try:
        log_value = _form_value()
    except ValueError as exc:
        flash(str(exc), "error")
        form = request.form.copy()
        form.pop("number", None)  # never echo a caller's number back into a page
        return _form_page(submission, form), 400
    session = db()
    try:
        key = current_envelope_key(session)
    except NoEnvelopeKey:
        abort(503)
    envelope_id = store_envelope(
        session, calls.CALL_LOG_CHANNEL, submission, log_value.to_payload(), key
    )
    if envelope_id is None:  # the same form sent twice: it is stored already
        envelope_id = session.scalar(
            select(InboundEnvelope.id).where(
                InboundEnvelope.channel == calls.CALL_LOG_CHANNEL,
                InboundEnvelope.provider_message_id == submission,
            )
        )
    session.commit()
    queued = dispatcher()
    if queued is not None:
        queued.enqueue("process_envelope", str(envelope_id))
    return redirect(url_for("calls.logged", envelope_id=envelope_id), code=303)


@blueprint.get("/calls/logged/<uuid:envelope_id>")
@allows("calls.log")
def logged(envelope_id: uuid.UUID) -> Response | str:
    """Where a logged call went: its ticket once filed; until then, a page that refreshes."""
    user = signed_in_user()
    ref = calls.logged_call_ticket(db(), user, envelope_id)
    if ref is not None:
        # TRANSLATORS: after logging a call; the ticket page follows.
        flash(_("Call logged."), "info")
        return redirect(url_for("tickets.show", ref=ref), code=303)
    return render_template("call_logged.html", user=user, envelope_id=envelope_id)
