"""A local stand-in for the Telegram Bot API, so python-telegram-bot runs for real in tests."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SentMessage:
    chat_id: int
    text: str
    reply_markup: Any = None


@dataclass
class TelegramStub:
    token: str
    server: ThreadingHTTPServer
    sent: list[SentMessage] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def messages_to(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SentMessage]:
        deadline = time.monotonic() + timeout
        while len(self.sent) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.sent


def _params(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    kind = handler.headers.get("Content-Type", "")
    if "json" in kind:
        return dict(json.loads(raw or b"{}"))
    values = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    for key in ("reply_markup",):
        if key in values:
            values[key] = json.loads(values[key])
    return values


def start_stub(token: str = "123456:TEST-TOKEN") -> TelegramStub:
    ids = itertools.count(1000)
    stub: TelegramStub

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            return

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            prefix = f"/bot{token}/"
            if not self.path.startswith(prefix):
                return self._answer(
                    404, {"ok": False, "error_code": 404, "description": "Not Found"}
                )
            method = self.path[len(prefix) :]
            params = _params(self)
            stub.calls.append(method)
            if method == "getMe":
                return self._answer(
                    200,
                    {
                        "ok": True,
                        "result": {
                            "id": 42,
                            "is_bot": True,
                            "first_name": "Voice Desk",
                            "username": "voicedesk_bot",
                            "can_join_groups": False,
                            "can_read_all_group_messages": False,
                            "supports_inline_queries": False,
                        },
                    },
                )
            if method == "sendMessage":
                chat_id = int(params["chat_id"])
                if chat_id in stub.blocked:
                    return self._answer(
                        403,
                        {
                            "ok": False,
                            "error_code": 403,
                            "description": "Forbidden: bot was blocked by the user",
                        },
                    )
                stub.sent.append(SentMessage(chat_id, params["text"], params.get("reply_markup")))
                return self._answer(
                    200,
                    {
                        "ok": True,
                        "result": {
                            "message_id": next(ids),
                            "date": int(time.time()),
                            "chat": {"id": chat_id, "type": "private"},
                            "text": params["text"],
                        },
                    },
                )
            return self._answer(200, {"ok": True, "result": True})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub = TelegramStub(token=token, server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return stub
