"""A kube-apiserver's EndpointSlice list and watch on 127.0.0.1, shaped like the recorded real ones.

Objects are copies of an EndpointSlice the real server sent (tests/gateway/data/kube-apiserver),
with name, uid, resourceVersion and endpoints changed; watch events are chunked JSON lines, one event
per chunk, as the real server writes them; a version older than the kept history gets the recorded
410 (a 200 with one ERROR event, or — as ``gone_as="status"`` — an HTTP 410 with the Status body);
a watch that reaches ``timeoutSeconds`` ends with a BOOKMARK when bookmarks were asked for.
The test drives it: ``put``/``delete`` slices, ``bookmark``, ``compact`` the history, ``drop`` the
watch connections, ``fail_next`` requests with a status.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from aiohttp import web

DATA = Path(__file__).parent / "data" / "kube-apiserver"


def _recorded_events() -> list[dict[str, Any]]:
    raw = (DATA / "watch.http").read_bytes().split(b"\r\n\r\n", 1)[1]
    return [json.loads(line) for line in raw.split(b"\r\n") if line.startswith(b"{")]


RECORDED = _recorded_events()
TEMPLATE: dict[str, Any] = RECORDED[0]["object"]  # a full EndpointSlice as the server sends it
BOOKMARK: dict[str, Any] = RECORDED[-1][
    "object"
]  # {"kind", "apiVersion", "metadata": {"resourceVersion"}, …}
EXPIRED: dict[str, Any] = json.loads(
    (DATA / "watch_expired.http").read_bytes().split(b"\r\n\r\n", 1)[1].split(b"\r\n")[1]
)["object"]  # the Status of a 410
HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache, private"}


def endpoint(address: str, ready: bool = True, terminating: bool = False) -> dict[str, Any]:
    return {
        "addresses": [address],
        "conditions": {"ready": ready, "serving": ready, "terminating": terminating},
        "nodeName": "gpu-l4-1",
    }


class FakeKubeApi:
    """The EndpointSlices of one namespace; ``requests`` records every request's query."""

    def __init__(self, namespace: str = "llm", gone_as: str = "event") -> None:
        self.namespace = namespace
        self.gone_as = gone_as
        self.rv = 20000
        self.slices: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[int, str, dict[str, Any]]] = []
        self.oldest = 0
        self.requests: list[dict[str, str]] = []
        self.request_times: list[float] = []
        self.fail_next: list[int] = []
        self._queues: list[asyncio.Queue[tuple[str, dict[str, Any]] | None]] = []
        self._responses: list[web.StreamResponse] = []
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.url = ""

    # --- what the test does ------------------------------------------------------------------------

    def put(self, name: str, port: int, endpoints: list[dict[str, Any]], service: str = "engine") -> None:
        obj = copy.deepcopy(TEMPLATE)
        self.rv += 1
        event = "MODIFIED" if name in self.slices else "ADDED"
        meta = obj["metadata"]
        meta.update(name=name, namespace=self.namespace, uid=f"uid-{name}", resourceVersion=str(self.rv))
        meta["labels"]["kubernetes.io/service-name"] = service
        obj["endpoints"] = endpoints
        obj["ports"] = [{"name": "http", "protocol": "TCP", "port": port}]
        self.slices[name] = obj
        self._emit(event, obj)

    def delete(self, name: str) -> None:
        obj = copy.deepcopy(self.slices.pop(name))
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit("DELETED", obj)

    def bookmark(self, other_changes: int = 5) -> None:
        """Objects outside the selector changed (the version moved); the server says so."""
        self.rv += other_changes
        mark = copy.deepcopy(BOOKMARK)
        mark["metadata"]["resourceVersion"] = str(self.rv)
        for queue in self._queues:
            self._loop_().call_soon_threadsafe(queue.put_nowait, ("BOOKMARK", mark))

    @property
    def watching(self) -> int:
        """Open watch connections."""
        return len(self._queues)

    def compact(self) -> None:
        """etcd compaction: every version up to now is gone."""
        self.oldest = self.rv + 1
        self.history.clear()

    def drop(self) -> None:
        """The network breaks every open watch."""
        for response in self._responses:
            transport = response._req.transport if response._req is not None else None
            if transport is not None:
                transport.abort()

    def _emit(self, event: str, obj: dict[str, Any]) -> None:
        self.history.append((self.rv, event, obj))
        for queue in self._queues:  # (tests call this from their own thread)
            self._loop_().call_soon_threadsafe(queue.put_nowait, (event, obj))

    def _loop_(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "start the server first"
        return self._loop

    # --- the server ----------------------------------------------------------------------------------

    async def start(self) -> str:
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_get(
            f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices", self._handle
        )
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        for queue in self._queues:
            queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()

    def _status(self, code: int, reason: str, message: str) -> web.Response:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
        body.update(reason=reason, code=code)
        return web.Response(status=code, body=json.dumps(body).encode(), headers=HEADERS)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append(query)
        self.request_times.append(asyncio.get_running_loop().time())
        if self.fail_next:
            code = self.fail_next.pop(0)
            return self._status(
                code, "ServiceUnavailable", "the server is currently unable to handle the request"
            )
        selector = query.get("labelSelector", "")
        service = selector.removeprefix("kubernetes.io/service-name=")
        mine = [
            s
            for s in self.slices.values()
            if s["metadata"]["labels"]["kubernetes.io/service-name"] == service
        ]
        if query.get("watch") != "true":
            listing = {
                "kind": "EndpointSliceList",
                "apiVersion": "discovery.k8s.io/v1",
                "metadata": {"resourceVersion": str(self.rv)},
                "items": mine,
            }
            return web.Response(body=json.dumps(listing, indent=2).encode(), headers=HEADERS)
        return await self._watch(request, query, service)

    async def _watch(self, request: web.Request, query: dict[str, str], service: str) -> web.StreamResponse:
        since = int(query.get("resourceVersion") or self.rv)
        if since < self.oldest - 1:
            message = f"too old resource version: {since} ({self.oldest})"
            if self.gone_as == "status":
                return self._status(410, "Expired", message)
            response = web.StreamResponse(headers=HEADERS)
            await response.prepare(request)
            gone = {**EXPIRED, "message": message}
            await response.write(
                json.dumps({"type": "ERROR", "object": gone}, separators=(",", ":")).encode() + b"\n"
            )
            await response.write_eof()
            return response
        response = web.StreamResponse(headers=HEADERS)
        await response.prepare(request)
        self._responses.append(response)
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        for rv, event, obj in self.history:
            if rv > since:
                queue.put_nowait((event, obj))
        self._queues.append(queue)
        timeout_s = float(query.get("timeoutSeconds", "1800"))
        try:
            async with asyncio.timeout(timeout_s):
                while (item := await queue.get()) is not None:
                    event, obj = item
                    labels = obj["metadata"].get("labels") or {}
                    if event != "BOOKMARK" and labels.get("kubernetes.io/service-name") != service:
                        continue
                    if event == "BOOKMARK" and query.get("allowWatchBookmarks") != "true":
                        continue
                    line = json.dumps({"type": event, "object": obj}, separators=(",", ":")).encode() + b"\n"
                    await response.write(line)
        except TimeoutError:
            if query.get("allowWatchBookmarks") == "true":  # the real server's last word before the timeout
                mark = copy.deepcopy(BOOKMARK)
                mark["metadata"]["resourceVersion"] = str(self.rv)
                await response.write(json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n")
        except ConnectionError:
            return response
        finally:
            self._queues.remove(queue)
            self._responses.remove(response)
        await response.write_eof()
        return response


def kubeconfig(url: str, namespace: str = "llm") -> dict[str, Any]:
    """A kubeconfig (as kubectl writes it) for the fake server, with a bearer token."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "gateway", "user": {"token": "sa-token-123"}}],
        "contexts": [
            {"name": "fake", "context": {"cluster": "fake", "user": "gateway", "namespace": namespace}}
        ],
        "current-context": "fake",
    }
