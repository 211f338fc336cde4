"""The Flask application factory: console, JSON API, webhooks and health."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from bots.registry import build_channels
from intake.db import make_engine, make_sessionmaker
from intake.settings import Settings
from safeguards import keys as keyfiles
from safeguards.keycheck import check_keys_at_start
from translations.i18n import CONSOLE_DOMAIN, translations_for
from workers.queue import Dispatcher, RQDispatcher

logger = logging.getLogger(__name__)

csrf = CSRFProtect()


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.instance / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="ascii")
        path.chmod(0o600)
    logger.warning("SECRET_KEY is not set: using a development key from %s", path)
    return path.read_text(encoding="ascii").strip()


def create_app(settings: Settings, dispatcher: Dispatcher | None = None) -> Flask:
    """Build the web application. It holds the content key ring, never the vault keys."""
    app = Flask(__name__, instance_path=str(settings.instance))
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=settings.max_webhook_bytes,
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=settings.testing,
        SIMULATOR=settings.simulator_enabled,
    )
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    content = keyfiles.load_content_ring(settings)
    try:
        check_keys_at_start(sessions, [content])  # a wrong key fails here, before any request
    except BaseException:
        engine.dispose()
        raise
    # Webhooks write through an engine of their own: each envelope is one INSERT in
    # autocommit (durable when it returns, one round trip), and no ping before each
    # use: a connection lost to a database restart fails one delivery with 503 (the
    # provider retries) and is replaced.
    hook_engine = make_engine(
        settings.database_url, pool_pre_ping=False, isolation_level="AUTOCOMMIT"
    )
    if dispatcher is None and settings.redis_url:
        dispatcher = RQDispatcher(settings.redis_url)
    app.extensions["voicedesk"] = {
        "settings": settings,
        "engine": engine,
        "hook_engine": hook_engine,
        "sessions": sessions,
        "dispatcher": dispatcher,
        "content": content,
        # Webhooks verify and parse here; sending happens only in worker processes.
        "channels": build_channels(settings),
    }
    csrf.init_app(app)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: translations_for(g.get("ui_language"), CONSOLE_DOMAIN).gettext(message),
        lambda singular, plural, n: translations_for(g.get("ui_language"), CONSOLE_DOMAIN).ngettext(
            singular, plural, n
        ),
        newstyle=True,
    )

    from console import (
        admin,
        api,
        auth,
        calls,
        health,
        hooks,
        i18n,
        incidents,
        labels,
        outbox,
        partner,
        referrals,
        remediation,
        simulator,
        tickets,
    )

    i18n.init_app(app)
    labels.init_app(app)

    for module in (
        auth,
        tickets,
        remediation,
        incidents,
        partner,
        calls,
        referrals,
        admin,
        hooks,
        simulator,
        outbox,
        api,
        health,
    ):
        app.register_blueprint(module.blueprint)
    csrf.exempt(hooks.blueprint)
    csrf.exempt(api.blueprint)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            session.close()

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path.startswith(
            ("/tickets", "/api", "/simulator", "/calls", "/referrals", "/audit", "/login")
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def close_app(app: Flask) -> None:
    """Let go of the app's database connections and its queue connection."""
    parts = app.extensions["voicedesk"]
    parts["engine"].dispose()
    parts["hook_engine"].dispose()
    if parts["dispatcher"] is not None:
        parts["dispatcher"].close()
