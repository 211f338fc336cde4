"""A local stand-in for Twilio's REST API, and Twilio's own way of signing callbacks.

The real `twilio` client runs against it (its base URL pointed here by
TWILIO_API_BASE). Callbacks in tests are signed with `RequestValidator` from the
twilio library: Twilio's documented scheme, not ours.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token"


def sign(url: str, params: dict[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for this URL and form."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


def signed_post(
    client: Any,
    path: str,
    params: dict[str, str],
    public_base: str,
    headers: dict[str, str] | None = None,
    signed_url: str | None = None,
) -> Any:
    """POST a Twilio callback to the Flask test client, signed over the public URL."""
    url = signed_url or public_base + path
    return client.post(
        path,
        data=urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": sign(url, params), **(headers or {})},
    )  # fmt: skip


@dataclass
class SentTwilioMessage:
    to: str
    sender: str | None
    body: str | None
    content_sid: str | None
    content_variables: dict[str, str] | None
    at: float
    sid: str = ""
    created: float = 0.0  # wall clock, as Twilio's date_created

    def resource(self) -> dict[str, Any]:
        """The message as Twilio's API shows it (a template's text filled in)."""
        body = self.body
        if body is None and self.content_sid:
            body = f"(template {self.content_sid} {json.dumps(self.content_variables)})"
        return {
            "sid": self.sid, "account_sid": ACCOUNT_SID, "to": self.to, "from": self.sender,
            "body": body, "status": "queued", "num_media": "0", "direction": "outbound-api",
            "api_version": "2010-04-01", "date_created": formatdate(self.created, usegmt=True),
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{self.sid}.json",
        }  # fmt: skip


@dataclass
class TwilioStub:
    server: ThreadingHTTPServer
    sent: list[SentTwilioMessage] = field(default_factory=list)
    # path (as Twilio would serve it) -> (content type, bytes)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    # answers to give to message creation first: (status, JSON body, headers)
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    unauthorised: int = 0
    # called once a message is taken, before Twilio answers: something that happens on
    # our side while the send is in flight (the worker killed, say)
    while_sending: list[Any] = field(default_factory=list)
    # called instead of taking the next message: it never reaches Twilio (the worker
    # killed just before, say), and the connection is dropped unanswered
    instead_of_taking: list[Any] = field(default_factory=list)
    listed: int = 0  # how often the message list was asked for

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def media_url(self, path: str, content: bytes, content_type: str) -> str:
        self.media[path] = (content_type, content)
        return self.base + path

    def bodies_to(self, address: str) -> list[str | None]:
        return [m.body for m in self.sent if m.to == address]


def start_twilio_stub() -> TwilioStub:
    sids = itertools.count(1)
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    stub: TwilioStub

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == expected_auth:
                return True
            stub.unauthorised += 1
            self._reply(
                401,
                json.dumps({"code": 20003, "message": "Authenticate"}).encode(),
                "application/json",
            )
            return False

        def do_GET(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            path, _, query = self.path.partition("?")
            if path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                self._list(dict(parse_qsl(query)))
                return
            if self.path not in stub.media:
                self._reply(404, b"{}", "application/json")
                return
            stub.downloads.append(self.path)
            content_type, data = stub.media[self.path]
            self._reply(200, data, content_type)

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            length = int(self.headers.get("Content-Length") or 0)
            params = dict(parse_qsl(self.rfile.read(length).decode()))
            if not self.path.endswith("/Messages.json"):
                self._reply(404, b"{}", "application/json")
                return
            if stub.script:
                status, body, headers = stub.script.pop(0)
                self._reply(status, json.dumps(body).encode(), "application/json", headers)
                return
            if stub.instead_of_taking:
                stub.instead_of_taking.pop(0)()
                self.close_connection = True
                return
            variables = params.get("ContentVariables")
            message = SentTwilioMessage(
                to=params["To"], sender=params.get("From") or params.get("MessagingServiceSid"),
                body=params.get("Body"), content_sid=params.get("ContentSid"),
                content_variables=json.loads(variables) if variables else None,
                at=time.monotonic(), sid=f"SM{next(sids):032d}", created=time.time())  # fmt: skip
            stub.sent.append(message)
            while stub.while_sending:
                stub.while_sending.pop(0)()
            self._reply(201, json.dumps(message.resource()).encode(), "application/json")

        def _list(self, query: dict[str, str]) -> None:
            """Messages sent, newest first, filtered by To and From, one page."""
            stub.listed += 1
            size = int(query.get("PageSize", 50))
            found = [
                m.resource() for m in reversed(stub.sent)
                if m.to == query.get("To", m.to) and m.sender == query.get("From", m.sender)
            ][:size]  # fmt: skip
            self._reply(200, json.dumps({
                "messages": found, "page": 0, "page_size": size, "next_page_uri": None,
                "previous_page_uri": None, "first_page_uri": self.path, "start": 0,
                "end": max(len(found) - 1, 0), "uri": self.path,
            }).encode(), "application/json")  # fmt: skip

        def _reply(
            self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub = TwilioStub(server=server)
    # A short poll: stopping a stub waits for it, after every test.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return stub
