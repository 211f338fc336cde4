"""Sign-in, and the rule that every view is closed unless it says who may see it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import EmailField, HiddenField, PasswordField, SelectField
from wtforms.validators import DataRequired

from console.context import db
from console.i18n import _
from intake.models import User
from safeguards import audit
from safeguards.passwords import DUMMY_HASH, check_password
from translations.i18n import UI_LANGUAGES

blueprint = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Mark a view as open to anyone (sign-in, health, webhooks that verify themselves)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def roles(*allowed: str) -> Callable[[F], F]:
    """Let only signed-in users with one of these roles reach the view."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.path))
            if user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def current_user() -> User | None:
    if "user" not in g:
        user_id = session.get("user_id")
        user = db().get(User, user_id) if user_id is not None else None
        g.user = user if user is not None and user.active else None
    return cast(User | None, g.user)


@blueprint.before_app_request
def _deny_by_default() -> Response | None:
    if request.endpoint == "static":
        return None  # stylesheets and fonts: nothing about a worker
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "public", False) or hasattr(view, "allowed_roles"):
        return None
    abort(403)  # a view that declares nothing is closed to everyone


@blueprint.before_app_request
def _ui_language() -> None:
    if request.endpoint == "static":
        return  # a font or a stylesheet reads the same in every language
    chosen = session.get("ui_language")
    if chosen in UI_LANGUAGES:
        g.ui_language = chosen
        return
    # Not chosen yet: the browser's preference among ours, else English.
    g.ui_language = request.accept_languages.best_match(UI_LANGUAGES, default="en")
    after_this_request(_vary_on_accept_language)


def _vary_on_accept_language(response: Response) -> Response:
    response.vary.add("Accept-Language")
    return response


def safe_next(target: str | None) -> str:
    """Return where to go after sign-in: a path on this site, never another site."""
    if (
        not target
        or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in target)
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return url_for("tickets.queue")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("tickets.queue")
    return target


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db().scalar(select(User).where(User.email == email))
        if check_password(user.password_hash if user else DUMMY_HASH, form.password.data) and (
            user is not None and user.active
        ):
            language = session.get("ui_language")
            session.clear()  # a new session at sign-in: nothing carries over…
            _keep_ui_language(language)  # …but the language the login page was read in
            session["user_id"] = user.id
            session.permanent = False
            audit.record(db(), actor=f"user:{user.id}", action="auth.login", target=None)
            db().commit()
            return redirect(safe_next(request.args.get("next")))
        flash(_("Email or password is wrong."), "error")
    return render_template("login.html", form=form)


@blueprint.post("/logout")
@roles("admin", "supervisor", "caseworker", "hotline", "partner")
def logout() -> Response:
    language = session.get("ui_language")
    session.clear()
    _keep_ui_language(language)
    return redirect(url_for("auth.login"))


def _keep_ui_language(language: object) -> None:
    if language in UI_LANGUAGES:
        session["ui_language"] = language


class UiLanguageForm(FlaskForm):  # type: ignore[misc]
    language = SelectField(choices=list(UI_LANGUAGES), validate_choice=True)
    next = HiddenField()


@blueprint.post("/ui-language")
@public  # the sign-in page offers it too; it only sets a preference in the session
def ui_language() -> Response:
    """Remember the interface language the user picked, then go back where they were."""
    form = UiLanguageForm()
    if form.validate_on_submit():
        session["ui_language"] = form.language.data
    # An unknown language is ignored; either way, back to a page of this site only.
    return redirect(safe_next(form.next.data))
