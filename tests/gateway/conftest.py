"""Fixtures: an event loop in a background thread that runs fake engines and gateways on 127.0.0.1.

Tests drive them from the main thread with real clients (the openai SDK, urllib), as users would.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from gateway.fake_engine import FakeEngine
from kubellm.gateway.admission import ApiKeyStore
from kubellm.gateway.server import Gateway
from kubellm.spec.gateway import GatewayConfig

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread; ``run`` executes a coroutine on it and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


class Stack:
    """Engines and gateways started for one test; all stopped at its end."""

    def __init__(self, loop: LoopThread) -> None:
        self.loop = loop
        self.engines: list[FakeEngine] = []
        self.gateways: list[Gateway] = []

    def engine(self, **kwargs: Any) -> FakeEngine:
        engine = FakeEngine(**kwargs)
        self.loop.run(engine.start())
        self.engines.append(engine)
        return engine

    def gateway(self, config: dict[str, Any], keys: dict[str, str] | None = None) -> str:
        config.setdefault("listen", {"host": "127.0.0.1", "port": 0})
        config.setdefault("health_checks", {"interval_s": 0.1, "timeout_s": 1.0})
        gateway = Gateway(GatewayConfig.model_validate(config), keys=ApiKeyStore(keys) if keys else None)
        self.loop.run(gateway.start())
        self.gateways.append(gateway)
        return f"http://127.0.0.1:{gateway.port}"

    def close(self) -> None:
        for gateway in self.gateways:
            self.loop.run(gateway.stop())
        for engine in self.engines:
            self.loop.run(engine.stop())


@pytest.fixture
def stack(loop_thread: LoopThread) -> Iterator[Stack]:
    s = Stack(loop_thread)
    yield s
    s.close()


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """The gateway's log records (its logger, at INFO) while the test runs."""
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger = logging.getLogger("kubellm.gateway")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield seen
    logger.removeHandler(handler)
    logger.setLevel(old)
