"""The simulator: chat as a made-up worker in one tab, work the ticket in another."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from bots.simulator import simulator_payload
from console.auth import roles
from console.context import channels, content_ring, db, dispatcher, settings
from console.hooks import accept
from console.i18n import _
from intake.models import Direction
from intake.simulator import record_line, transcript
from workers.queue import InlineDispatcher

blueprint = Blueprint("simulator", __name__)
STAFF = ("admin", "supervisor", "caseworker", "hotline")


class SayForm(FlaskForm):  # type: ignore[misc]
    text = TextAreaField("Message", validators=[DataRequired(), Length(max=4000)])


def _chat() -> str:
    if "sim_chat" not in session:
        session["sim_chat"] = "sim-" + secrets.token_hex(8)
    return str(session["sim_chat"])


def _require_simulator() -> None:
    if not settings().simulator_enabled or "simulator" not in channels():
        abort(404)


@blueprint.get("/simulator")
@roles(*STAFF)
def page() -> str:
    _require_simulator()
    lines = transcript(db(), content_ring(), _chat())
    return render_template("simulator.html", lines=lines, form=SayForm())


@blueprint.post("/hooks/simulator")
@roles(*STAFF)
def say() -> Response:
    """Post as the simulated worker, through the same webhook path as every channel."""
    _require_simulator()
    form = SayForm()
    if not form.validate_on_submit():
        abort(400)
    chat = _chat()
    record_line(db(), content_ring(), chat, Direction.IN, form.text.data)
    db().commit()
    _response, status = accept("simulator", simulator_payload(chat, form.text.data), {}, "")
    if status != 200:
        flash(_("The message could not be stored. Try again."), "error")
    queue = dispatcher()
    if isinstance(queue, InlineDispatcher):
        queue.drain()  # the embedded default: show the bot's answer on the next page
    return redirect(url_for("simulator.page"))


@blueprint.post("/simulator/new")
@roles(*STAFF)
def new_chat() -> Response:
    _require_simulator()
    session.pop("sim_chat", None)
    return redirect(url_for("simulator.page"))
