"""The JSON API (bearer tokens from `voicedesk token create`), described by openapi.json."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from console.auth import public
from console.context import content_ring, db, dispatcher, settings
from console.openapi import OPENAPI
from intake import replies, tickets, triage, validation
from intake.db import utcnow
from intake.errors import Conflict, Invalid, NotAllowed
from intake.models import ApiToken, User, Validation
from safeguards.access import STAFF_ROLES
from safeguards.passwords import token_hash

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])
MAX_PAGE = 200
# The longest string each body field takes, as openapi.json documents it; longer is a 400,
# never trimmed first (whitespace around it) nor cut (a close reason) after.
MAX_LENGTHS = {"text": replies.MAX_REPLY, "summary": validation.MAX_SUMMARY, "reason": 2000}


class ApiError(HTTPException):
    def __init__(self, code: int, message: str, detail: str = "") -> None:
        super().__init__(description=detail)
        self.code = code
        self.message = message


def json_error(status: int, message: str, detail: str = "") -> tuple[Response, int]:
    return jsonify(error=message, detail=detail), status


@blueprint.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    return json_error(exc.code or 500, exc.message, exc.description or "")


@blueprint.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> HTTPException | Response:
    """Answer Flask's own refusals under /api/v1 (404, 405, 413...) in JSON too, not HTML.

    Routing fails before any blueprint is chosen, so this is an app-wide handler; any
    other path gets the exception back, which Flask answers as it always did.
    """
    if not request.path.startswith(f"{blueprint.url_prefix}/"):
        return exc
    response = jsonify(error=(exc.name or "error").lower(), detail=exc.description or "")
    response.status_code = exc.code or 500
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers.add(name, value)  # a 405's Allow
    return response


def _queryable(value: str) -> bool:
    """Whether PostgreSQL can compare a column with this string: it takes no NUL."""
    return "\x00" not in value


def _encodable(value: str) -> bool:
    """Whether this string is Unicode text (JSON may carry a lone surrogate; UTF-8 may not)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def token_user() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>")
    row = db().scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token.strip())))
    if row is None or row.revoked_at is not None or not row.user.active:
        raise ApiError(401, "unauthorized", "the token is not valid")
    row.last_used_at = utcnow()
    return row.user


def api_view(view: F) -> F:
    """Admit requests with a valid bearer token of a staff user."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.api_user = token_user()
        if g.api_user.role not in STAFF_ROLES:
            raise ApiError(403, "forbidden", "this role has no access to tickets")
        return view(*args, **kwargs)

    wrapper.allowed_roles = tuple(STAFF_ROLES)  # type: ignore[attr-defined]
    return cast(F, wrapper)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def validation_json(asked: Validation | None) -> dict[str, Any] | None:
    if asked is None:
        return None
    return {
        "status": asked.status,
        "answer": asked.answer,
        "satisfaction": asked.satisfaction,
        "method": asked.method,
        "requested_at": _iso(asked.requested_at),
        "answered_at": _iso(asked.answered_at),
        "deadline_at": _iso(asked.deadline_at),
        "reminders_sent": asked.reminders_sent,
    }


def ticket_json(
    summary: tickets.TicketSummary, categories: list[str], asked: Validation | None
) -> dict[str, Any]:
    ticket = summary.ticket
    return {
        "ref": ticket.ref,
        "status": ticket.status,
        "language": ticket.language,
        "channel": ticket.channel,
        "urgent": ticket.urgent,
        "organisation": ticket.organisation.name,
        "assigned": ticket.assignee_id is not None,
        "categories": categories,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "message_count": summary.message_count,
        "validation": validation_json(asked),
        "closed_as": ticket.closed_as,
    }


def _cursor(summary: tickets.TicketSummary) -> str:
    raw = f"{summary.ticket.created_at.isoformat()}|{summary.ticket.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(value: str) -> tuple[dt.datetime, int]:
    refusal = ApiError(400, "bad cursor", "use the `next` value of the previous page")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at_text, _, id_text = raw.partition("|")
        at, ticket_id = dt.datetime.fromisoformat(at_text), int(id_text)
        # Only what _cursor writes: a zoned time that is one in UTC too, an id PostgreSQL holds.
        if at.tzinfo is None or not 0 < ticket_id < 2**63:
            raise refusal
        return at.astimezone(dt.UTC), ticket_id
    except (ValueError, OverflowError) as exc:
        raise refusal from exc


def _filter(name: str) -> str | None:
    value = request.args.get(name) or None
    if value is not None and not _queryable(value):
        raise ApiError(400, "bad filter", f"{name} holds a NUL character")
    return value


def _flag(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value.lower() in {"true", "1", "yes"}:
        return True
    if value.lower() in {"false", "0", "no"}:
        return False
    raise ApiError(400, "bad filter", f"{name} is true or false")


@blueprint.get("/tickets")
@api_view
def list_tickets() -> Response:
    try:
        limit = min(int(request.args.get("limit", 50)), MAX_PAGE)
    except ValueError as exc:
        raise ApiError(400, "bad limit", "limit is a whole number") from exc
    before = request.args.get("before")
    filters = tickets.TicketFilters(
        status=_filter("status"),
        language=_filter("language"),
        channel=_filter("channel"),
        urgent=_flag("urgent"),
    )
    rows = tickets.list_tickets(
        db(),
        g.api_user,
        filters,
        limit=max(limit, 1),
        before=_parse_cursor(before) if before else None,
    )
    ids = [row.ticket.id for row in rows]
    categories = triage.categories_of(db(), ids)
    asked = validation.latest_of(db(), ids)
    db().commit()
    return jsonify(
        tickets=[
            ticket_json(row, [c.code for c in categories[row.ticket.id]], asked.get(row.ticket.id))
            for row in rows
        ],
        next=_cursor(rows[-1]) if len(rows) == limit and rows else None,
    )


@blueprint.get("/tickets/<ref>")
@api_view
def show_ticket(ref: str) -> Response:
    summary = _ticket(ref)
    thread = tickets.read_thread(db(), content_ring(), g.api_user, summary.ticket, via="api")
    categories = triage.categories_of(db(), [summary.ticket.id])[summary.ticket.id]
    asked = validation.latest(db(), summary.ticket)
    db().commit()
    body = ticket_json(summary, [c.code for c in categories], asked)
    body["messages"] = [
        {
            "direction": m.direction,
            "kind": m.kind,
            "text": m.text,
            "language": m.language,
            "channel": m.channel,
            "at": _iso(m.at),
            "delivery_status": m.delivery_status,
            "failure_reason": m.failure_reason,
            "attachments": [
                {"id": str(a.id), "kind": a.kind, "content_type": a.content_type, "size": a.size}
                for a in m.attachments
            ],
        }
        for m in thread
    ]
    return jsonify(body)


@blueprint.post("/tickets/<ref>/replies")
@api_view
def reply(ref: str) -> tuple[Response, int]:
    """Queue a reply in the worker's chat (202); it shows in the thread at once."""
    body = _json_body("text")
    summary = _ticket(ref)
    with _refusals("this user may not reply on this ticket"):
        message = replies.send_reply(db(), content_ring(), g.api_user, summary.ticket, body["text"])
        db().commit()
    queued = dispatcher()
    if queued is not None:
        queued.enqueue("send_outbound", str(message.id))
    return jsonify(
        ref=ref,
        message={
            "direction": message.direction,
            "kind": message.kind,
            "text": body["text"].strip(),
            "language": message.language,
            "channel": message.channel,
            "at": _iso(message.created_at),
            "delivery_status": message.delivery_status,
        },
    ), 202


def _json_body(field: str, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, whose `field` is a string (or absent, if optional).

    An optional field may also come with no body at all. The string is Unicode text of
    at most the documented length, counted as sent.
    """
    if not required and not request.get_data():
        return {}
    body = request.get_json(silent=True)
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(body, dict) or not (
        isinstance(value, str) or (value is None and not required)
    ):
        raise ApiError(400, "bad request", f'send JSON {{"{field}": "..."}}')
    if isinstance(value, str) and not _encodable(value):
        raise ApiError(400, "bad request", f"{field} holds a lone UTF-16 surrogate")
    if isinstance(value, str) and len(value) > MAX_LENGTHS[field]:
        raise ApiError(400, "bad request", f"{field} is at most {MAX_LENGTHS[field]} characters")
    return body


def _ticket(ref: str) -> tickets.TicketSummary:
    try:
        if not _queryable(ref):
            raise tickets.TicketNotFound(ref)  # no ref holds a NUL; PostgreSQL takes none
        return tickets.get_ticket(db(), g.api_user, ref)
    except tickets.TicketNotFound as exc:
        raise ApiError(404, "not found", f"no ticket {ref}") from exc


@contextlib.contextmanager
def _refusals(forbidden: str) -> Iterator[None]:
    """Turn the domain's refusals into JSON errors: 403, 400, 409."""
    try:
        yield
    except NotAllowed as exc:
        raise ApiError(403, "forbidden", forbidden) from exc
    except Invalid as exc:
        raise ApiError(400, "bad request", str(exc)) from exc
    except Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from exc


def _ticket_body(summary: tickets.TicketSummary) -> dict[str, Any]:
    categories = triage.categories_of(db(), [summary.ticket.id])[summary.ticket.id]
    return ticket_json(
        summary, [c.code for c in categories], validation.latest(db(), summary.ticket)
    )


@blueprint.post("/tickets/<ref>/validation-requests")
@api_view
def request_validation(ref: str) -> tuple[Response, int]:
    """Ask the worker, through the bot, whether the fix really happened (202)."""
    body = _json_body("summary")
    summary = _ticket(ref)
    with _refusals("this user may not ask for validation on this ticket"):
        message = validation.request_validation(
            db(),
            content_ring(),
            g.api_user,
            summary.ticket,
            body["summary"],
            settings().validation_schedule,
        )
        db().commit()
    queued = dispatcher()
    if queued is not None:
        queued.enqueue("send_prompt", str(message.id))
    return jsonify(_ticket_body(summary)), 202


@blueprint.post("/tickets/<ref>/close")
@api_view
def close(ref: str) -> Response:
    """Close a ticket: validated, information-only, or unvalidated by a supervisor with a reason."""
    body = _json_body("reason", required=False)
    summary = _ticket(ref)
    with _refusals("this user may not close this ticket"):
        triage.close_ticket(db(), content_ring(), g.api_user, summary.ticket, body.get("reason"))
        db().commit()
    return jsonify(_ticket_body(summary))


@blueprint.get("/openapi.json")
@public
def openapi() -> Response:
    return jsonify(OPENAPI)
