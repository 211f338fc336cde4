"""Start and stop a private redis-server, to test what happens when Redis goes away."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateRedis:
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with Redis(port=self.port, socket_connect_timeout=0.2) as client:
                    if client.ping():
                        return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def redis_values(url: str) -> Iterator[bytes]:
    """Every value of every key, decompressed where rq compressed it."""
    with Redis.from_url(url) as redis:
        for key in redis.scan_iter():
            yield key
            kind = redis.type(key).decode()
            if kind == "string":
                values = [redis.get(key)]
            elif kind == "hash":
                values = [v for pair in redis.hgetall(key).items() for v in pair]
            elif kind == "list":
                values = redis.lrange(key, 0, -1)
            elif kind == "set":
                values = list(redis.smembers(key))
            elif kind == "zset":
                values = redis.zrange(key, 0, -1)
            elif kind == "stream":
                values = [
                    v for _, fields in redis.xrange(key) for pair in fields.items() for v in pair
                ]
            else:
                values = []
            for value in values:
                yield value or b""
                with contextlib.suppress(zlib.error):
                    yield zlib.decompress(value or b"")
