"""Sign-in, and the rule that every view is closed unless it says who may see it.

Signing in takes a password and then a code from an authenticator app (TOTP), for
every role. A user without one enrols on their first sign-in. A signed-in browser
holds a random secret; the database holds its SHA-256 as a `StaffSession`, so signing
out, an idle timeout or a password change ends the session for good, even for a
copied cookie. Password and code attempts are throttled per account and per address.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import math
import secrets
import time
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
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_wtf import FlaskForm
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from werkzeug.wrappers import Response
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired

from console.context import content_ring, db, settings
from console.i18n import _
from intake.db import utcnow
from intake.models import RecoveryCode, Role, StaffSession, User
from intake.settings import RateLimit
from safeguards import audit, totp
from safeguards.passwords import DUMMY_HASH, check_password, hash_password, token_hash
from safeguards.sealing import binding
from translations.i18n import UI_LANGUAGES
from workers.queue import RQDispatcher, redis_connection
from workers.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

logger = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])

STAFF_ROLES = tuple(role.value for role in Role)
MIN_PASSWORD_LENGTH = 12
# Password ok, code not yet: how long that half-signed-in state lasts.
PENDING_SECONDS = 5 * 60
# last_seen_at is written at most this often, so a busy page costs no write per request.
TOUCH_EVERY = dt.timedelta(minutes=1)


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
    """Return the user this browser's staff session belongs to, or None if it is not live."""
    if "user" not in g:
        g.user = _user_of_this_session()
    return cast(User | None, g.user)


def _user_of_this_session() -> User | None:
    secret = session.get("sid")
    if not isinstance(secret, str):
        return None
    staff_session = db().get(StaffSession, token_hash(secret))
    user = db().get(User, staff_session.user_id) if staff_session is not None else None
    now = utcnow()
    if staff_session is None or user is None or not _is_live(staff_session, user, now):
        if staff_session is not None and staff_session.ended_at is None:
            _write_apart(
                update(StaffSession)
                .where(StaffSession.id == staff_session.id, StaffSession.ended_at.is_(None))
                .values(ended_at=now)
            )
        session.pop("sid", None)
        flash(_("Your session ended. Sign in again."), "error")
        return None
    if now - staff_session.last_seen_at >= TOUCH_EVERY:
        _write_apart(
            update(StaffSession).where(StaffSession.id == staff_session.id).values(last_seen_at=now)
        )
    return user


def _is_live(staff_session: StaffSession, user: User, now: dt.datetime) -> bool:
    idle = dt.timedelta(minutes=settings().session_idle_minutes)
    return (
        staff_session.ended_at is None
        and user.active
        and user.totp_enrolled_at is not None  # two-factor reset: every session ends
        and now - staff_session.last_seen_at <= idle
        and (
            user.password_changed_at is None or staff_session.created_at >= user.password_changed_at
        )
    )


def _write_apart(statement: Any) -> None:
    # Its own short transaction: resolving the user must never commit a view's pending work.
    engine = current_app.extensions["voicedesk"]["engine"]
    with engine.begin() as connection:
        connection.execute(statement)


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
    if request.endpoint == "static" or request.blueprint == "hooks":
        return  # a font, a stylesheet or a provider's webhook: no language to choose
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


@blueprint.after_request
def _never_cached(response: Response) -> Response:
    # A TOTP secret, recovery codes or a half-signed-in page must not stay in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None) -> str:
    """Return where to go after sign-in: a path on this site, never another site."""
    if (
        not target
        or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in target)
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return url_for("tickets.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("tickets.home")
    return target


# --- throttling ----------------------------------------------------------------------


@blueprint.record_once
def _build_login_limiter(state: BlueprintSetupState) -> None:
    """Give the app one limiter for sign-in attempts: Redis-wide when Redis is configured."""
    parts = state.app.extensions["voicedesk"]
    parts["login_limiter"] = _login_limiter(parts)


def _login_limiter(parts: dict[str, Any]) -> RateLimiter:
    dispatcher = parts["dispatcher"]
    if isinstance(dispatcher, RQDispatcher):
        return RedisRateLimiter(dispatcher.connection)
    url = parts["settings"].redis_url
    return RedisRateLimiter(redis_connection(url)) if url else MemoryRateLimiter()


def _digest(kind: str, value: str) -> str:
    # Keyed with the app's secret: a plain SHA-256 of an IPv4 address or a known email
    # is undone by trying them all; this one means nothing to a reader of Redis.
    key = str(current_app.secret_key).encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _take_attempt(step: str, email: str) -> float:
    """Count one attempt for this account and this address; return seconds to wait, or 0.

    Called before anything is checked, so a refused attempt learns nothing. The limiter
    can only take slots, so every attempt counts, a right one too; passwords and codes
    have windows of their own, so signing in costs one of each.
    """
    account = f"login:{step}:account:{_digest('email', email.strip().lower())}"
    address = f"login:{step}:address:{_digest('address', request.remote_addr or '')}"
    limiter: RateLimiter = current_app.extensions["voicedesk"]["login_limiter"]
    waits = []
    for key, limit in (
        (account, settings().login_limit_account),
        (address, settings().login_limit_address),
    ):
        waits.append(_try_acquire(limiter, key, limit))
    return max(waits)


def _try_acquire(limiter: RateLimiter, key: str, limit: RateLimit) -> float:
    try:
        return limiter.try_acquire(key, limit)
    except RedisError:
        # Redis down: keep throttling, within this process only, rather than lock staff out.
        logger.warning("sign-in limiter unreachable; throttling in this process only")
        fallback: RateLimiter = current_app.extensions["voicedesk"].setdefault(
            "login_limiter_fallback", MemoryRateLimiter()
        )
        return fallback.try_acquire(key, limit)


def _too_many(wait: float, template: str, **context: Any) -> Response:
    flash(_("Too many attempts. Wait a minute and try again."), "error")
    response = make_response(render_template(template, **context), 429)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _record_failure(user: User | None, step: str) -> None:
    # The user's id when the email names one; never what was typed.
    audit.record(
        db(),
        actor="anonymous",
        action="auth.login_failed",
        target=f"user:{user.id}" if user is not None else None,
        step=step,
    )


# --- the sign-in steps ----------------------------------------------------------------


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField("Code", validators=[DataRequired()])


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        wait = _take_attempt("password", email)
        if wait > 0:
            return _too_many(wait, "login.html", form=form)
        user = db().scalar(select(User).where(User.email == email))
        if check_password(user.password_hash if user else DUMMY_HASH, form.password.data) and (
            user is not None and user.active
        ):
            _begin_second_step(user, safe_next(request.args.get("next")))
            if user.totp_enrolled_at is None:
                # A fresh secret at every sign-in until enrolment is confirmed, so a secret
                # someone else saw on an unfinished enrolment page is worth nothing.
                user.totp_secret_sealed = content_ring().seal(
                    totp.new_secret().encode("ascii"), _secret_binding(user)
                )
                db().commit()
                return redirect(url_for("auth.enrol"))
            return redirect(url_for("auth.second_factor"))
        _record_failure(user, "password")
        db().commit()
        flash(_("Email or password is wrong."), "error")
    return render_template("login.html", form=form)


def _begin_second_step(user: User, next_path: str) -> None:
    _fresh_session()
    session["pending"] = {"user": user.id, "since": time.time(), "next": next_path}


def _pending_user() -> User | None:
    """Return the user whose password was right minutes ago, if that is still valid."""
    pending = session.get("pending")
    if not isinstance(pending, dict):
        return None
    user_id, since = pending.get("user"), pending.get("since")
    user = None
    if isinstance(user_id, int) and isinstance(since, int | float):
        if 0 <= time.time() - since <= PENDING_SECONDS:
            user = db().get(User, user_id)
        if user is not None and (
            not user.active
            or (
                user.password_changed_at is not None
                and user.password_changed_at.timestamp() > since
            )
        ):
            user = None
    if user is None:
        session.pop("pending", None)
        flash(_("Sign in again: the code was not entered within five minutes."), "error")
    return user


def _back_to_login() -> Response:
    return redirect(url_for("auth.login"))


def _secret_binding(user: User) -> bytes:
    return binding("users", "totp_secret_sealed", user.id)


def _totp_secret(user: User) -> str | None:
    if user.totp_secret_sealed is None:
        return None
    return content_ring().open(user.totp_secret_sealed, _secret_binding(user)).decode("ascii")


@blueprint.route("/login/enrol", methods=["GET", "POST"])
@public  # only for a user whose password was just right; see _pending_user
def enrol() -> str | Response:
    """Set up the authenticator app: QR code, confirm with a code, then recovery codes."""
    user = _pending_user()
    if user is None:
        return _back_to_login()
    if user.totp_enrolled_at is not None:
        return redirect(url_for("auth.second_factor"))
    secret = _totp_secret(user)
    if secret is None:
        return _back_to_login()
    form = CodeForm()
    page = {
        "form": form,
        "qr": Markup(totp.qr_svg(totp.provisioning_uri(secret, user.email))),  # noqa: S704 - our own SVG
        "secret": totp.grouped(secret),
    }
    if form.validate_on_submit():
        wait = _take_attempt("code", user.email)
        if wait > 0:
            return _too_many(wait, "login_enrol.html", **page)
        step = totp.matching_step(secret, form.code.data, time.time(), None)
        if step is not None and _confirm_enrolment(user, step):
            codes = _new_recovery_codes(user)
            audit.record(db(), actor=f"user:{user.id}", action="auth.totp_enrolled")
            next_path = _finish_sign_in(user)
            db().commit()
            return render_template("login_recovery_codes.html", codes=codes, next_path=next_path)
        _record_failure(user, "enrol")
        db().commit()
        flash(
            _("That code is not right. Check that the phone's clock is right, then try again."),
            "error",
        )
    return render_template("login_enrol.html", **page)


def _confirm_enrolment(user: User, step: int) -> bool:
    # Conditional, so two confirmations racing each other enrol once.
    done = db().execute(
        update(User)
        .where(User.id == user.id, User.totp_enrolled_at.is_(None))
        .values(totp_enrolled_at=utcnow(), totp_last_step=step)
    )
    return cast(CursorResult[Any], done).rowcount == 1


def _new_recovery_codes(user: User) -> list[str]:
    db().execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    for code in codes:
        db().add(RecoveryCode(user_id=user.id, code_hash=totp.recovery_code_hash(code)))
    return codes


@blueprint.route("/login/code", methods=["GET", "POST"])
@public  # only for a user whose password was just right; see _pending_user
def second_factor() -> str | Response:
    """Ask an enrolled user for the code of their authenticator app, or a recovery code."""
    user = _pending_user()
    if user is None:
        return _back_to_login()
    if user.totp_enrolled_at is None:
        return redirect(url_for("auth.enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        wait = _take_attempt("code", user.email)
        if wait > 0:
            return _too_many(wait, "login_code.html", form=form)
        accepted, recovery_codes_left = _accept_code(user, form.code.data)
        if accepted:
            next_path = _finish_sign_in(user)
            db().commit()
            if recovery_codes_left is not None:  # flashed after the fresh session, so it shows
                flash(
                    _("You signed in with a recovery code. Recovery codes left: %(count)s")
                    % {"count": recovery_codes_left}
                )
            return redirect(next_path)
        _record_failure(user, "code")
        db().commit()
        flash(_("That code is not right, or it was used already."), "error")
    return render_template("login_code.html", form=form)


def _accept_code(user: User, code: str) -> tuple[bool, int | None]:
    """Accept an authenticator code or a recovery code, each once; count the recovery codes left."""
    if totp.looks_like_totp(code):
        secret = _totp_secret(user)
        step = (
            None
            if secret is None
            else totp.matching_step(secret, code, time.time(), user.totp_last_step)
        )
        if step is None:
            return False, None
        # Conditional, so the same code sent twice at once signs in once.
        done = db().execute(
            update(User)
            .where(
                User.id == user.id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return cast(CursorResult[Any], done).rowcount == 1, None
    digest = totp.recovery_code_hash(code)
    if digest is None:
        return False, None
    done = db().execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if cast(CursorResult[Any], done).rowcount != 1:
        return False, None
    audit.record(db(), actor=f"user:{user.id}", action="auth.recovery_code_used")
    left = db().scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return True, left or 0


def _finish_sign_in(user: User) -> str:
    """Start a staff session for this browser (a new cookie); return where to go next."""
    pending = session.get("pending")
    next_path = safe_next(pending.get("next") if isinstance(pending, dict) else None)
    _start_staff_session(user)
    audit.record(db(), actor=f"user:{user.id}", action="auth.login")
    return next_path


def _start_staff_session(user: User) -> None:
    _fresh_session()  # nothing from before sign-in carries over: no session fixation
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    db().add(StaffSession(id=token_hash(secret), user_id=user.id, created_at=now, last_seen_at=now))
    session["sid"] = secret
    session.permanent = False
    g.user = user


def _fresh_session() -> None:
    language = session.get("ui_language")
    session.clear()
    _keep_ui_language(language)  # …but the language the page was read in


def _keep_ui_language(language: object) -> None:
    if language in UI_LANGUAGES:
        session["ui_language"] = language


# --- signing out and changing the password -------------------------------------------


@blueprint.post("/logout")
@roles(*STAFF_ROLES)
def logout() -> Response:
    user = current_user()
    secret = session.get("sid")
    if user is not None and isinstance(secret, str):
        db().execute(
            update(StaffSession)
            .where(StaffSession.id == token_hash(secret), StaffSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        audit.record(db(), actor=f"user:{user.id}", action="auth.logout")
        db().commit()
    _fresh_session()
    return redirect(url_for("auth.login"))


class PasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired()])
    again = PasswordField("New password again", validators=[DataRequired()])


@blueprint.route("/account/password", methods=["GET", "POST"])
@roles(*STAFF_ROLES)
def change_password() -> str | Response:
    """Change one's password; every other session of the user ends, on every device."""
    user = current_user()
    assert user is not None
    form = PasswordForm()
    if form.validate_on_submit():
        wait = _take_attempt("password", user.email)
        if wait > 0:
            return _too_many(wait, "account_password.html", form=form, user=user)
        problem = _password_problem(user, form.current.data, form.new.data, form.again.data)
        if problem is None:
            _set_password(user, form.new.data)
            db().commit()
            flash(_("Your password is changed. You are signed out everywhere else."))
            return redirect(url_for("tickets.home"))
        flash(problem, "error")
    return render_template("account_password.html", form=form, user=user)


def _password_problem(user: User, current: str, new: str, again: str) -> str | None:
    if not check_password(user.password_hash, current):
        return _("Your current password is wrong.")
    if len(new) < MIN_PASSWORD_LENGTH:
        return _("The new password needs at least 12 characters.")
    if new != again:
        return _("The two new passwords are not the same.")
    if new == current:
        return _("Choose a new password that differs from the current one.")
    return None


def _set_password(user: User, password: str) -> None:
    """Set the password, end every session of the user, and start one for this browser."""
    now = utcnow()
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    db().execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    audit.record(db(), actor=f"user:{user.id}", action="auth.password_changed")
    _start_staff_session(user)


# --- the interface language --------------------------------------------------------


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
