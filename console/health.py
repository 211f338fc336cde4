"""GET /healthz: can this process reach its database (and Redis, when configured)?"""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from console.auth import public
from console.context import db, dispatcher, settings

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
@public
def healthz() -> tuple[Response, int]:
    unreachable = []
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        unreachable.append("database")
    queue = dispatcher()
    if settings().redis_url and (queue is None or not queue.ping()):
        unreachable.append("redis")
    if unreachable:
        return jsonify(status="unavailable", unreachable=unreachable), 503
    return jsonify(status="ok"), 200
