"""A local stand-in for the Viber REST bot API, and Viber's way of signing callbacks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VIBER_TOKEN = "viber-test-auth-token"


def viber_signature(body: bytes, token: str = VIBER_TOKEN) -> str:
    """X-Viber-Content-Signature: HMAC-SHA256 of the raw body, hex, as Viber documents."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class ViberStub:
    server: ThreadingHTTPServer
    sent: list[dict[str, Any]] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    # file path -> bytes, served without credentials like Viber's media links
    media: dict[str, bytes] = field(default_factory=dict)
    # answers to give to send_message first: the JSON body (Viber answers HTTP 200)
    script: list[dict[str, Any]] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)
    bad_token: int = 0

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def texts_to(self, receiver: str) -> list[str]:
        return [m["text"] for m in self.sent if m["receiver"] == receiver]


def start_viber_stub() -> ViberStub:
    tokens = itertools.count(5_000_000_000_000_000_000)
    stub: ViberStub

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            data = stub.media.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.headers.get("X-Viber-Auth-Token") != VIBER_TOKEN:
                stub.bad_token += 1
                return self._answer({"status": 2, "status_message": "invalidAuthToken"})
            if self.path == "/pa/set_webhook":
                stub.webhooks.append(body)
                return self._answer(
                    {
                        "status": 0,
                        "status_message": "ok",
                        "event_types": body.get("event_types", []),
                    }
                )
            if self.path != "/pa/send_message":
                return self._answer({"status": 3, "status_message": "badData"})
            if stub.script:
                return self._answer(stub.script.pop(0))
            if body.get("receiver") in stub.unsubscribed:
                return self._answer({"status": 6, "status_message": "notSubscribed"})
            stub.sent.append(body)
            stub.sent_at.append(time.monotonic())
            return self._answer(
                {"status": 0, "status_message": "ok", "message_token": next(tokens)}
            )

        def _answer(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub = ViberStub(server=server)
    # A short poll: stopping a stub waits for it, after every test.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return stub
