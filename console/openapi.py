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
                    {"name": n, "in": "query", "required": False, "schema": {"type": t}}
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
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
    },
}
