"""Fixtures for the operator's tests: the project's API double (tests/cluster) and a running operator."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the API double lives in tests/cluster

from cluster.fake_apiserver import BUILTIN, KEDA, PROMETHEUS_OPERATOR, FakeApiServer
from cluster.fake_lifecycle import LIFECYCLE_KINDS
from kubellm.cluster.kubeconfig import Credentials
from kubellm.operator.leader import LeaseTimes
from kubellm.operator.runner import OperatorOptions, serve


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer(served={**BUILTIN, **KEDA, **PROMETHEUS_OPERATOR, **LIFECYCLE_KINDS}).start()
    server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}})
    server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}})
    yield server
    server.stop()


class RunningOperator:
    """One operator process (its own event loop in a thread) against the double."""

    def __init__(self, api: FakeApiServer, identity: str, resync_s: float = 1.0) -> None:
        self.credentials = Credentials(server=api.url, token=api.token, context="fake", namespace="ops")
        self.options = OperatorOptions(
            identity=identity,
            lease_namespace="ops",
            resync_s=resync_s,
            health_port=None,
            lease_times=LeaseTimes(duration_s=3, renew_s=0.5, retry_s=0.2),
        )
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.stop_event = asyncio.Event()
            await serve(self.credentials, self.options, self.stop_event)

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:  # reported by the test that stops it
            self.error = exc

    def stop(self, timeout_s: float = 20.0) -> None:
        while self.stop_event is None and self.thread.is_alive():
            time.sleep(0.01)
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "the operator did not stop"


@pytest.fixture
def start_operator(api: FakeApiServer) -> Iterator[Callable[..., RunningOperator]]:
    started: list[RunningOperator] = []

    def start(identity: str = "replica-a", **kwargs: Any) -> RunningOperator:
        running = RunningOperator(api, identity, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


def eventually(check: Callable[[], Any], timeout_s: float = 20.0, what: str = "") -> Any:
    """Poll until ``check()`` is truthy; fail with ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.1)
