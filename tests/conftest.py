"""Shared fixtures: settings built from a small factory, never from the real environment."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from intake.settings import Settings

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
