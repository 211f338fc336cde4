"""The OpenAPI description of the JSON API."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["error", "detail"],
}
_TICKET = {
    "type": "object",
    "properties": {
        "ref": {"type": "string", "example": "K7M4-Q9P2"},
        "status": {
            "type": "string",
            "enum": [
                "new",
                "triaged",
                "in_remediation",
                "awaiting_validation",
                "validated",
                "closed",
            ],
        },
        "language": {"type": "string", "nullable": True, "enum": ["my", "km", "ne", "th", "en"]},
        "channel": {"type": "string"},
        "urgent": {"type": "boolean"},
        "assigned": {"type": "boolean", "description": "someone of the organisation works it"},
        "organisation": {"type": "string"},
        "categories": {
            "type": "array",
            "items": {"type": "string"},
            "description": "category codes of the taxonomy, e.g. withholding_of_wages",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "message_count": {"type": "integer"},
        "validation": {
            "type": "object",
            "nullable": True,
            "description": "the newest time the worker was asked to validate the fix",
            "properties": {
                "status": {
                    "type": "string",
                    "enum": ["requested", "validated", "disputed", "unvalidated", "withdrawn"],
                },
                "answer": {
                    "type": "string",
                    "nullable": True,
                    "enum": ["fixed", "partly_fixed", "not_fixed", "person", None],
                },
                "satisfaction": {"type": "integer", "nullable": True, "minimum": 1, "maximum": 5},
                "method": {"type": "string", "enum": ["chat", "phone"]},
                "requested_at": {"type": "string", "format": "date-time"},
                "answered_at": {"type": "string", "format": "date-time", "nullable": True},
                "deadline_at": {"type": "string", "format": "date-time", "nullable": True},
                "reminders_sent": {"type": "integer"},
            },
        },
        "closed_as": {
            "type": "string",
            "nullable": True,
            "enum": ["validated", "information_only", "unvalidated", None],
            "description": "how it closed; unvalidated: by a supervisor, with a reason",
        },
    },
}
_MESSAGE = {
    "type": "object",
    "properties": {
        "direction": {"type": "string", "enum": ["in", "out"]},
        "kind": {"type": "string"},
        "text": {
            "type": "string",
            "nullable": True,
            "description": "Plaintext, Unicode NFC; Zawgyi converted to Unicode",
        },
        "language": {"type": "string", "nullable": True},
        "channel": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "delivery_status": {"type": "string"},
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    # 413: a body over VOICEDESK_MAX_WEBHOOK_BYTES, refused before it is read.
    return {
        str(code): {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Worker Voice Desk API", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": _ERROR,
            "Ticket": _TICKET,
            "Message": _MESSAGE,
            "TicketWithMessages": {
                "allOf": [
                    {"$ref": "#/components/schemas/Ticket"},
                    {
                        "type": "object",
                        "properties": {
                            "messages": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Message"},
                            }
                        },
                    },
                ]
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/tickets": {
            "get": {
                "summary": "Tickets this token's user may see, newest first",
                "parameters": [
                    # A filter sent empty (`urgent=`) is no filter, as if it were not sent.
                    {
                        "name": n,
                        "in": "query",
                        "required": False,
                        "schema": {"type": t},
                        **({"allowEmptyValue": True} if n != "limit" else {}),
                    }
                    for n, t in (
                        ("status", "string"),
                        ("language", "string"),
                        ("channel", "string"),
                        ("urgent", "boolean"),
                        ("limit", "integer"),
                        ("before", "string"),
                    )
                ],
                "responses": {
                    "200": {
                        "description": "a page of tickets",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "tickets": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Ticket"},
                                        },
                                        "next": {"type": "string", "nullable": True},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403),
                },
            }
        },
        "/api/v1/tickets/{ref}": {
            "get": {
                "summary": "One ticket with its messages (opening text writes an audit entry)",
                "parameters": [
                    {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "the ticket",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/TicketWithMessages"}
                            }
                        },
                    },
                    **_errors(401, 403, 404),
                },
            }
        },
        "/api/v1/tickets/{ref}/replies": {
            "post": {
                "summary": "Send a reply to the worker through the ticket's channel",
                "parameters": [
                    {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"text": {"type": "string", "maxLength": 4000}},
                                "required": ["text"],
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "queued; the message appears in the thread",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "ref": {"type": "string"},
                                        "message": {"$ref": "#/components/schemas/Message"},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403, 404, 409, 413),
                },
            }
        },
        "/api/v1/tickets/{ref}/validation-requests": {
            "post": {
                "summary": "Ask the worker to validate the remediation",
                "description": (
                    "The bot asks the worker in their language and channel, naming what was "
                    "fixed (the summary), with the options 1 fixed, 2 partly fixed, 3 not "
                    "fixed, 4 talk to a person; then a 1-5 satisfaction question. The ticket "
                    "must be in remediation (or already awaiting validation: a new request "
                    "replaces the open one). Reminders and the deadline follow the schedule "
                    "(VOICEDESK_VALIDATION_REMINDERS, VOICEDESK_VALIDATION_DEADLINE)."
                ),
                "parameters": [
                    {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"summary": {"type": "string", "maxLength": 500}},
                                "required": ["summary"],
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "the question is queued; the ticket awaits validation",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}
                        },
                    },
                    **_errors(400, 401, 403, 404, 409, 413),
                },
            }
        },
        "/api/v1/tickets/{ref}/close": {
            "post": {
                "summary": "Close a ticket",
                "description": (
                    "409 unless the worker validated the fix or the ticket is "
                    "information-only. A supervisor may close a ticket whose validation "
                    "went unanswered past the deadline (unvalidated) only with a reason, "
                    "which is kept sealed and audited; it is counted apart in indicators."
                ),
                "parameters": [
                    {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"reason": {"type": "string", "maxLength": 2000}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "closed",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}
                        },
                    },
                    **_errors(400, 401, 403, 404, 409, 413),
                },
            }
        },
    },
}
