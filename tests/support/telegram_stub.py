"""A local stand-in for the Telegram Bot API, so python-telegram-bot runs for real in tests."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote


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
    sent_at: list[float] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # file_id -> bytes the bot can download through getFile
    files: dict[str, bytes] = field(default_factory=dict)
    # answers to give first, per method: (HTTP status, body), used up in order
    script: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # called once a message is taken, before Telegram answers: something that happens
    # on our side while the send is in flight (the database restarting, say)
    while_sending: list[Any] = field(default_factory=list)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def messages_to(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]


def _params(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    if "json" in handler.headers.get("Content-Type", ""):
        return dict(json.loads(raw or b"{}"))
    values: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    if "reply_markup" in values:
        values["reply_markup"] = json.loads(values["reply_markup"])
    return values


def _error(code: int, description: str) -> tuple[int, dict[str, Any]]:
    return code, {"ok": False, "error_code": code, "description": description}


def start_stub(token: str = "123456:TEST-TOKEN") -> TelegramStub:
    ids = itertools.count(1000)
    stub: TelegramStub

    def answer(method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if stub.script.get(method):
            return stub.script[method].pop(0)
        if method == "getMe":
            return 200, {
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
            }
        if method == "getFile":
            file_id = params["file_id"]
            if file_id not in stub.files:
                return _error(400, "Bad Request: invalid file_id")
            return 200, {
                "ok": True,
                "result": {
                    "file_id": file_id,
                    "file_unique_id": "u" + file_id,
                    "file_size": len(stub.files[file_id]),
                    "file_path": f"files/{file_id}.bin",
                },
            }
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            if chat_id in stub.blocked:
                return _error(403, "Forbidden: bot was blocked by the user")
            stub.sent.append(SentMessage(chat_id, params["text"], params.get("reply_markup")))
            stub.sent_at.append(time.monotonic())
            while stub.while_sending:
                stub.while_sending.pop(0)()
            return 200, {
                "ok": True,
                "result": {
                    "message_id": next(ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": params["text"],
                },
            }
        return 200, {"ok": True, "result": True}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            return

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            prefix = f"/file/bot{token}/files/"
            path = unquote(self.path)
            file_id = path[len(prefix) :].removesuffix(".bin")
            if not path.startswith(prefix) or file_id not in stub.files:
                self._reply(404, b"", "text/plain")
                return
            self._reply(200, stub.files[file_id], "application/octet-stream")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            prefix = f"/bot{token}/"
            if not self.path.startswith(prefix):
                status, body = _error(404, "Not Found")
            else:
                method = self.path[len(prefix) :]
                params = _params(self)
                stub.calls.append(method)
                stub.requests.append((method, params))
                status, body = answer(method, params)
            self._reply(status, json.dumps(body).encode(), "application/json")

        def _reply(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub = TelegramStub(token=token, server=server)
    # A short poll: stopping a stub waits for it, after every test.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return stub
