"""Fixtures for the operator's tests: the project's API double (tests/cluster) and a running operator."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
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


OPERATOR_THREAD = "kubellm-operator-under-test-"
STARTUP_S = 3.0


class RunningOperator:
    """One operator process (``asyncio.run`` in a thread, as `kubellm operator` runs it) against the double."""

    def __init__(self, api: FakeApiServer, identity: str, resync_s: float = 1.0) -> None:
        self.credentials = Credentials(server=api.url, token=api.token, context="fake", namespace="ops")
        self.options = OperatorOptions(
            identity=identity,
            lease_namespace="ops",
            resync_s=resync_s,
            health_port=None,
            lease_times=LeaseTimes(duration_s=3, renew_s=0.5, retry_s=0.2),
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"{OPERATOR_THREAD}{identity}", daemon=True)
        self.started_at = time.monotonic()
        self.thread.start()

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            await serve(self.credentials, self.options, self.stop_event)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by the test that stops it
            self.error = exc

    def stop(self, timeout_s: float = 40.0) -> None:
        # Not inside kopf's start-up: a stop there can abandon a session kopf is still opening (seen when a
        # test's checks pass within a second on a busy machine); a stop during work is what these tests check.
        time.sleep(max(0.0, self.started_at + STARTUP_S - time.monotonic()))
        while self.stop_event is None and self.thread.is_alive():
            time.sleep(0.01)
        if self.stop_event is not None and self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to stop
                self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "the operator did not stop"


class SessionLedger:
    """Every aiohttp session an operator under test opens (kopf's API sessions): each must be closed at the end.
    Sessions opened by other threads (a server or client some earlier test left running) are not the operator's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sessions: list[aiohttp.ClientSession] = []
        original = aiohttp.ClientSession.__init__
        ledger = self.sessions

        def recording_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            original(session, *args, **kwargs)
            if threading.current_thread().name.startswith(OPERATOR_THREAD):
                import traceback

                session._kubellm_stack = "".join(traceback.format_stack(limit=25))  # type: ignore[attr-defined]
                ledger.append(session)  # held until the test ends: checked, not left to the garbage collector

        monkeypatch.setattr(aiohttp.ClientSession, "__init__", recording_init)

    def unclosed(self) -> list[aiohttp.ClientSession]:
        return [s for s in self.sessions if not s.closed]


@pytest.fixture
def start_operator(
    api: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RunningOperator]]:
    """Start operators; when the test ends, stop them and require that they closed every session they opened."""
    started: list[RunningOperator] = []
    ledger = SessionLedger(monkeypatch)

    def start(identity: str = "replica-a", **kwargs: Any) -> RunningOperator:
        running = RunningOperator(api, identity, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()
    assert ledger.sessions, "the operator opened no API session: the ledger sees nothing"
    assert ledger.unclosed() == [], (
        "the operator left aiohttp sessions open (kopf's API sessions)"
        + "\n".join(getattr(x, "_kubellm_stack", "") for x in ledger.unclosed())
    )


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
