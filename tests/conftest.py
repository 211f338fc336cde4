"""Shared fixtures: settings built from a small factory, never from the real environment."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from intake.settings import Settings

from support.telegram_stub import TelegramStub, start_stub
from support.twilio_stub import TwilioStub, start_twilio_stub
from support.viber_stub import ViberStub, start_viber_stub

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block the network except loopback: no test may reach a real provider."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
            raise OSError(f"tests may not reach {host}")
        return real_connect(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build Settings from an explicit environment, as the product would read it."""

    def build(**env: str) -> Settings:
        values = {"VOICEDESK_INSTANCE": str(tmp_path / "instance"), **env}
        return Settings.from_env(values).with_changes(testing=True)

    return build


@pytest.fixture
def demo_settings(make_settings: Callable[..., Settings]) -> Settings:
    """The embedded default: SQLite in the instance folder, no Redis, the simulator on."""
    return make_settings(VOICEDESK_SIMULATOR="true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


# The providers' stand-ins, each on a loopback port of its own, stopped after the test.

Stub = TypeVar("Stub", TelegramStub, TwilioStub, ViberStub)


def _running(stub: Stub) -> Iterator[Stub]:
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def telegram_stub() -> Iterator[TelegramStub]:
    yield from _running(start_stub())


@pytest.fixture
def twilio_stub() -> Iterator[TwilioStub]:
    yield from _running(start_twilio_stub())


@pytest.fixture
def viber_stub() -> Iterator[ViberStub]:
    yield from _running(start_viber_stub())
