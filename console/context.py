"""Per-request access to the app's parts: the database session, keys, channels, queue."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app, g
from sqlalchemy.orm import Session

from bots.base import Channel
from intake.settings import Settings
from safeguards.sealing import KeyRing
from workers.queue import Dispatcher


def _parts() -> dict[str, Any]:
    return cast(dict[str, Any], current_app.extensions["voicedesk"])


def db() -> Session:
    """The request's database session (closed when the request ends)."""
    if "db" not in g:
        g.db = _parts()["sessions"]()
    return cast(Session, g.db)


def settings() -> Settings:
    return cast(Settings, _parts()["settings"])


def content_ring() -> KeyRing:
    return cast(KeyRing, _parts()["content"])


def channels() -> dict[str, Channel]:
    return cast(dict[str, Channel], _parts()["channels"])


def dispatcher() -> Dispatcher | None:
    return cast(Dispatcher | None, _parts()["dispatcher"])
