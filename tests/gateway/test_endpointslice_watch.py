"""The EndpointSlice watch: real recorded API answers replayed byte for byte, and an API server on
127.0.0.1 shaped like them for ADDED/MODIFIED/DELETED/BOOKMARK, 410 Gone, broken connections and the
gateway serving through what it discovers."""

from __future__ import annotations

import asyncio
import functools
import json
import operator
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from lightkube import KubeConfig

from gateway.clients import MSG, client
from gateway.conftest import Stack
from gateway.kube_api import DATA, FakeKubeApi, endpoint, kubeconfig
from kubellm.gateway.endpointslices import EndpointSliceWatch
from kubellm.spec.gateway import EndpointSliceBackends

BACKENDS = EndpointSliceBackends(namespace="llm", service="engine", port_name="http")


class Changes:
    """What on_change was told, in order."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    async def __call__(self, urls: list[str]) -> None:
        self.seen.append(urls)

    def wait_for(self, urls: list[str], timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.seen and self.seen[-1] == urls:
                return
            time.sleep(0.01)
        raise AssertionError(f"never saw {urls}; saw {self.seen}")


# --- the recorded real answers, replayed byte for byte -----------------------------------------------


class RecordedApi:
    """Serves the recorded bytes: the list; the watch from the list's version; the 410 after that."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.list_bytes = (DATA / "list.http").read_bytes()
        self.watch_bytes = (DATA / "watch.http").read_bytes()
        self.expired_bytes = (DATA / "watch_expired.http").read_bytes()
        self.url = ""
        self.handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        self.server.close()
        for task in list(self.handlers):
            task.cancel()
        if self.handlers:
            await asyncio.wait(self.handlers, timeout=2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ")[1].decode()
                query = parse_qs(urlsplit(target).query)
                self.requests.append(query)
                watches = sum(1 for q in self.requests if q.get("watch") == ["true"])
                if query.get("watch") != ["true"]:
                    writer.write(self.list_bytes)
                elif watches == 1:
                    writer.write(self.watch_bytes)
                elif watches == 2:
                    writer.write(self.expired_bytes)
                else:
                    await asyncio.sleep(3600)  # a quiet watch
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def test_the_recorded_watch_is_followed_event_by_event(loop_thread: Any) -> None:
    api = RecordedApi()
    loop_thread.run(api.start())
    changes = Changes()
    watch = EndpointSliceWatch(
        EndpointSliceBackends(namespace="gateway-watch-rec", service="engine", port_name="http"),
        KubeConfig.from_dict(kubeconfig(api.url, "gateway-watch-rec")),
    )
    task = asyncio.run_coroutine_threadsafe(watch.watch(changes), loop_thread.loop)
    try:
        deadline = time.monotonic() + 10
        while watch.lists < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
    finally:
        task.cancel()
        loop_thread.run(watch.close())
        loop_thread.run(api.stop())
    assert changes.seen == [
        ["http://10.244.1.17:8000"],  # the list
        # MODIFIED: 10.244.4.21 joins not ready — nothing changes
        ["http://10.244.1.17:8000", "http://10.244.5.33:8000"],  # ADDED engine-b
        ["http://10.244.4.21:8000", "http://10.244.5.33:8000"],  # MODIFIED: .17 terminating, .21 ready
        ["http://10.244.4.21:8000"],  # DELETED engine-b
        ["http://10.244.1.17:8000"],  # the 410 after the BOOKMARK's watch: listed again
    ]
    watches = [q for q in api.requests if q.get("watch") == ["true"]]
    assert watches[0]["resourceVersion"] == ["16498"] and watches[0]["allowWatchBookmarks"] == ["true"]
    assert watches[0]["labelSelector"] == ["kubernetes.io/service-name=engine"]
    assert watches[1]["resourceVersion"] == ["16503"]  # renewed from the BOOKMARK's version
    assert [q.get("watch") for q in api.requests][:4] == [None, ["true"], ["true"], None]  # 410 → list


# --- an API server shaped like the recordings, driven by the test ------------------------------------


@pytest.fixture
def kube(loop_thread: Any) -> Iterator[FakeKubeApi]:
    api = FakeKubeApi()
    loop_thread.run(api.start())
    yield api
    loop_thread.run(api.stop())


def start_watch(loop_thread: Any, api: FakeKubeApi, **kwargs: Any) -> tuple[EndpointSliceWatch, Changes, Any]:
    changes = Changes()
    watch = EndpointSliceWatch(BACKENDS, KubeConfig.from_dict(kubeconfig(api.url)), **kwargs)
    task = asyncio.run_coroutine_threadsafe(watch.watch(changes), loop_thread.loop)
    return watch, changes, task


def wait_watching(api: FakeKubeApi, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not api.watching and time.monotonic() < deadline:
        time.sleep(0.01)
    assert api.watching, "the watch never connected"


def stop_watch(loop_thread: Any, watch: EndpointSliceWatch, task: Any) -> None:
    task.cancel()
    loop_thread.run(watch.close())


def test_added_modified_deleted_and_no_polling(loop_thread: Any, kube: FakeKubeApi) -> None:
    kube.put("engine-a", 8000, [endpoint("10.0.0.1")])
    watch, changes, task = start_watch(loop_thread, kube)
    try:
        changes.wait_for(["http://10.0.0.1:8000"])
        kube.put("engine-b", 8000, [endpoint("10.0.0.2", ready=False)])
        kube.put("engine-b", 8000, [endpoint("10.0.0.2")])
        changes.wait_for(["http://10.0.0.1:8000", "http://10.0.0.2:8000"])
        kube.put("engine-a", 8000, [endpoint("10.0.0.1", terminating=True)])
        changes.wait_for(["http://10.0.0.2:8000"])
        kube.put("other", 9000, [endpoint("10.9.9.9")], service="another-service")  # not ours
        kube.delete("engine-b")
        changes.wait_for([])
        time.sleep(1.0)
    finally:
        stop_watch(loop_thread, watch, task)
    assert [q.get("watch") for q in kube.requests] == [None, "true"]  # one list, one watch: no polling
    assert "http://10.9.9.9:9000" not in functools.reduce(operator.iadd, changes.seen, [])


@pytest.mark.parametrize("gone_as", ["event", "status"])
def test_410_gone_lists_again_and_catches_what_was_missed(loop_thread: Any, gone_as: str) -> None:
    api = FakeKubeApi(gone_as=gone_as)
    loop_thread.run(api.start())
    api.put("engine-a", 8000, [endpoint("10.0.0.1")])
    api.put("engine-b", 8000, [endpoint("10.0.0.2")])
    watch, changes, task = start_watch(loop_thread, api, backoff_min_s=0.05)
    try:
        changes.wait_for(["http://10.0.0.1:8000", "http://10.0.0.2:8000"])
        wait_watching(api)
        api.fail_next = [503]  # the reconnect fails once, then the version is too old
        loop_thread.call(api.drop)
        api.delete("engine-b")  # while the watch is down: no DELETED reaches it...
        api.compact()  # ...and the history that held it is gone
        changes.wait_for(["http://10.0.0.1:8000"])  # the relist saw it
    finally:
        stop_watch(loop_thread, watch, task)
        loop_thread.run(api.stop())
    assert watch.lists == 2
    kinds = [q.get("watch") for q in api.requests]
    assert kinds[-2:] == ["true", None] or kinds[-3:-1] == ["true", None]  # the 410'd watch, then a list


def test_bookmarks_move_the_version_a_reconnect_starts_from(loop_thread: Any, kube: FakeKubeApi) -> None:
    kube.put("engine-a", 8000, [endpoint("10.0.0.1")])
    watch, changes, task = start_watch(loop_thread, kube, backoff_min_s=0.05)
    try:
        changes.wait_for(["http://10.0.0.1:8000"])
        wait_watching(kube)
        kube.bookmark(other_changes=40)
        deadline = time.monotonic() + 5
        while watch.cache.resource_version != str(kube.rv) and time.monotonic() < deadline:
            time.sleep(0.01)
        loop_thread.call(kube.drop)
        deadline = time.monotonic() + 5
        while len(kube.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop_watch(loop_thread, watch, task)
    assert kube.requests[2]["resourceVersion"] == str(kube.rv)  # from the bookmark, not the last event
    assert watch.lists == 1 and changes.seen == [["http://10.0.0.1:8000"]]


def test_failures_reconnect_with_a_doubling_backoff_and_keep_the_backends(
    loop_thread: Any, kube: FakeKubeApi
) -> None:
    kube.put("engine-a", 8000, [endpoint("10.0.0.1")])
    watch, changes, task = start_watch(loop_thread, kube, backoff_min_s=0.1)
    try:
        changes.wait_for(["http://10.0.0.1:8000"])
        wait_watching(kube)
        kube.fail_next = [503, 500, 503]
        loop_thread.call(kube.drop)
        deadline = time.monotonic() + 8
        while len(kube.requests) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        kube.put("engine-b", 8000, [endpoint("10.0.0.2")])
        changes.wait_for(["http://10.0.0.1:8000", "http://10.0.0.2:8000"])
    finally:
        stop_watch(loop_thread, watch, task)
    gaps = [b - a for a, b in zip(kube.request_times[2:], kube.request_times[3:], strict=False)][:3]
    # after the drop: three failures, each retried after roughly twice the wait before (±20 % jitter)
    assert gaps[0] >= 0.07 and gaps[1] >= 0.15 and gaps[2] >= 0.3, gaps
    assert changes.seen[0] == ["http://10.0.0.1:8000"] and [] not in changes.seen  # never emptied
    assert watch.lists == 1  # a broken connection is not a 410: the watch resumed from its version


# --- the gateway discovering its engines this way -----------------------------------------------------


def test_the_gateway_serves_the_engines_the_watch_finds(
    stack: Stack, kube: FakeKubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = stack.engine(), stack.engine()
    port_a, port_b = (int(e.url.rsplit(":", 1)[1]) for e in (a, b))
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(kubeconfig(kube.url)))
    monkeypatch.setenv("KUBECONFIG", str(config))
    kube.put("engine-a", port_a, [endpoint("127.0.0.1")])
    gw = stack.gateway(
        {
            "pools": [
                {
                    "name": "tiny",
                    "routing": "round-robin",
                    "backends": {"kind": "endpointslices", "namespace": "llm", "service": "engine"},
                }
            ],
            "health_checks": {"interval_s": 0.2},
        }
    )
    c = client(gw)
    for _ in range(3):
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert (a.requests, b.requests) == (3, 0)
    kube.put("engine-b", port_b, [endpoint("127.0.0.1")])
    time.sleep(0.5)  # the event, then the new backend's first probe
    for _ in range(4):
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert b.requests == 2
    kube.delete("engine-a")
    time.sleep(0.3)
    for _ in range(3):
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert (a.requests, b.requests) == (5, 5)
    assert [q.get("watch") for q in kube.requests] == [None, "true"]
    assert json.loads(json.dumps(kube.requests[1]))["allowWatchBookmarks"] == "true"
