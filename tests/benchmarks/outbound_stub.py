"""A Telegram Bot API stand-in that enforces the provider's rate limit, for bench_outbound.

It answers getMe and sendMessage as Telegram does and keeps two sliding windows, as
Telegram documents its limits: messages per bot (30 a second) and per chat (1 a
second). A sendMessage over either limit is answered 429 with Telegram's own body,
`{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after N",
"parameters": {"retry_after": N}}`, which python-telegram-bot turns into RetryAfter.

It runs as a process of its own, so its CPU can be read apart from everything else:

    python tests/benchmarks/outbound_stub.py --token 123:BENCH --limit 30/1 --chat-limit 1/1

prints `port N` on standard output once it listens, and serves on 127.0.0.1:

- `GET /_stub/stats`: what it saw since the last reset (the times, on the machine's
  monotonic clock, of every accepted message and every 429; getMe and other calls).
- `POST /_stub/reset` with `{"limit": "200/1", "chat_limit": "1/1"}`: new limits,
  empty windows and counters.

A message is timed as soon as its request line and headers are read, before the body,
so the stub's own queueing counts against it as little as possible.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Limit:
        count, seconds = text.split("/")
        return cls(int(count), float(seconds))


@dataclass
class Window:
    """A sliding window log: at most `limit.count` events in any `limit.seconds`."""

    limit: Limit
    times: collections.deque[float] = field(default_factory=collections.deque)

    def take(self, now: float) -> float:
        """Record an event and return 0, or return the seconds until one would be allowed."""
        while self.times and self.times[0] <= now - self.limit.seconds:
            self.times.popleft()
        if len(self.times) < self.limit.count:
            self.times.append(now)
            return 0.0
        return self.times[0] + self.limit.seconds - now


class Counters:
    """The stub's state: limits, windows, and what it answered. One lock guards it all."""

    def __init__(self, limit: Limit, chat_limit: Limit) -> None:
        self.lock = threading.Lock()
        self.message_ids = itertools.count(1)
        self.reset(limit, chat_limit)

    def reset(self, limit: Limit, chat_limit: Limit) -> None:
        with self.lock:
            self.limit, self.chat_limit = limit, chat_limit
            self.bot = Window(limit)
            self.chats: dict[int, Window] = {}
            self.sent: list[float] = []
            self.rejected: list[float] = []  # 429s over the bot's limit
            self.rejected_chat: list[float] = []  # 429s over a chat's limit
            self.calls: collections.Counter[str] = collections.Counter()
            self.since = time.monotonic()

    def take(self, chat_id: int, now: float) -> float:
        """Allow a message to this chat at `now`, or say how long to wait (0 = allowed)."""
        with self.lock:
            chat = self.chats.get(chat_id)
            if chat is None:
                chat = self.chats[chat_id] = Window(self.chat_limit)
            # Check both before taking either, so a refusal uses up no slot.
            for window in (chat, self.bot):
                while window.times and window.times[0] <= now - window.limit.seconds:
                    window.times.popleft()
            if len(chat.times) >= chat.limit.count:
                self.rejected_chat.append(now)
                return chat.times[0] + chat.limit.seconds - now
            wait = self.bot.take(now)
            if wait > 0:
                self.rejected.append(now)
                return wait
            chat.times.append(now)
            self.sent.append(now)
            if len(self.chats) > 50_000:  # one message per chat: forget idle chats
                self.chats = {k: w for k, w in self.chats.items() if w.times}
            return 0.0

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "limit": [self.limit.count, self.limit.seconds],
                "chat_limit": [self.chat_limit.count, self.chat_limit.seconds],
                "since": self.since,
                "now": time.monotonic(),
                "sent": list(self.sent),
                "rejected": list(self.rejected),
                "rejected_chat": list(self.rejected_chat),
                "calls": dict(self.calls),
            }


GET_ME = {
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


def _too_many(wait: float) -> tuple[int, dict[str, Any]]:
    retry_after = max(1, math.ceil(wait))  # Telegram says whole seconds
    return 429, {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


def make_server(token: str, counters: Counters, port: int = 0) -> ThreadingHTTPServer:
    prefix = f"/bot{token}/"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a client's getMe and send share a socket
        # Answers go out at once, in one write: with Nagle's algorithm a body written after
        # its headers waits for the client's delayed ACK, 40 ms a request that Telegram's
        # servers do not add.
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, *args: Any) -> None:
            return

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _params(self, raw: bytes) -> dict[str, Any]:
            if "json" in self.headers.get("Content-Type", ""):
                return dict(json.loads(raw or b"{}"))
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/_stub/stats":
                self._reply(200, counters.stats())
            else:
                self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            now = time.monotonic()
            raw = self._body()
            if self.path == "/_stub/reset":
                wanted = json.loads(raw or b"{}")
                counters.reset(Limit.parse(wanted["limit"]), Limit.parse(wanted["chat_limit"]))
                self._reply(200, {"ok": True})
                return
            if not self.path.startswith(prefix):
                self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            method = self.path[len(prefix) :]
            with counters.lock:
                counters.calls[method] += 1
            if method == "getMe":
                self._reply(200, GET_ME)
                return
            if method != "sendMessage":
                self._reply(200, {"ok": True, "result": True})
                return
            params = self._params(raw)
            chat_id = int(params["chat_id"])
            wait = counters.take(chat_id, now)
            if wait > 0:
                self._reply(*_too_many(wait))
                return
            self._reply(
                200,
                {
                    "ok": True,
                    "result": {
                        "message_id": next(counters.message_ids),
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"},
                        "text": params.get("text", ""),
                    },
                },
            )

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)  # buffered: handle_one_request flushes both as one

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    return Server(("127.0.0.1", port), Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--token", required=True)
    parser.add_argument("--limit", default="30/1", help="messages per bot: count/seconds")
    parser.add_argument("--chat-limit", default="1/1", help="messages per chat: count/seconds")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    counters = Counters(Limit.parse(args.limit), Limit.parse(args.chat_limit))
    server = make_server(args.token, counters, args.port)
    print(f"port {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
