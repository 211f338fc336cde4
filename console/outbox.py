"""The dead-letter list: messages that could not reach a worker, and a way to try again."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from console.auth import current_user, roles
from console.context import db, dispatcher
from console.i18n import _
from intake import delivery

blueprint = Blueprint("outbox", __name__)


@blueprint.get("/outbox/failed")
@roles("admin", "supervisor")
def failed() -> str:
    user = current_user()
    assert user is not None
    return render_template("outbox.html", letters=delivery.dead_letters(db(), user), user=user)


@blueprint.post("/outbox/failed/<uuid:message_id>/retry")
@roles("admin", "supervisor")
def retry(message_id: uuid.UUID) -> Response:
    user = current_user()
    assert user is not None
    try:
        message = delivery.retry_dead_letter(db(), user, message_id)
    except LookupError:
        abort(404)
    db().commit()
    queue = dispatcher()
    job = "send_prompt" if message.purpose == "prompt" else "send_outbound"
    if queue is None or not queue.enqueue(job, str(message.id)):
        flash(_("Queued again; it will be sent when the queue is back."), "error")
    else:
        flash(_("Queued again."), "ok")
    return redirect(url_for("outbox.failed"))
