"""Shared fixtures: a real server on an ephemeral loopback port, run on its own event loop."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `from support.gltf_validator import ...`



class LiveServer:
    """A server running on a background event loop; tests talk to it over a real socket."""

    def __init__(self, config, models=None):
        from server.app import create_server

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = self.call(create_server(config, models))
        self.address = f"127.0.0.1:{self.running.port}"
        self.service = self.running.service

    def call(self, coro, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, grace: float | None = 0):
        self.call(self.running.stop(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def start_server(tmp_path: Path, models=None, **overrides) -> LiveServer:
    from server.config import ServerConfig

    config = ServerConfig(address="127.0.0.1:0", data_dir=tmp_path / "data", **overrides)
    return LiveServer(config, models)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(live):
    from vitrine import Client

    with Client(live.address, timeout=120) as c:
        yield c
