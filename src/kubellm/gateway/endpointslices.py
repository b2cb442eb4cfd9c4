"""EndpointSlice discovery that watches the Kubernetes API (with lightkube) instead of polling it.

As client-go's reflector does: list the Service's EndpointSlices, then watch from the list's
``resourceVersion`` (with ``allowWatchBookmarks``), applying ADDED, MODIFIED and DELETED events to a
cache of slices and keeping BOOKMARK versions; a watch the server ends is renewed from the last
version; ``410 Gone`` (a version too old, whether as an HTTP status or as an ERROR event) means the
cache may have missed deletions, so the slices are listed again; any other failure reconnects after
a backoff that doubles up to ``BACKOFF_MAX_S`` (with jitter) and resets once events flow. Which
addresses count is ``urls_from_endpointslices``, a pure function.

The client is lightkube's generic async client: it reads the in-cluster service account (re-reading
a rotated token on 401) or a kubeconfig, as client-go does; its watch parameters are passed as the
API defines them, since lightkube's high-level ``watch`` has no ``allowWatchBookmarks``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx2
from lightkube import KubeConfig
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ApiError
from lightkube.core.generic_client import GenericAsyncClient
from lightkube.resources.discovery_v1 import EndpointSlice

from kubellm.gateway.discovery import DiscoveryError, urls_from_endpointslices
from kubellm.spec.gateway import EndpointSliceBackends

log = logging.getLogger("kubellm.gateway")
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
OnChange = Callable[[list[str]], Awaitable[None]]


class SliceCache:
    """The Service's EndpointSlices by name, kept by watch events; what they add up to, as URLs."""

    def __init__(self, port_name: str | None, scheme: str) -> None:
        self.port_name = port_name
        self.scheme = scheme
        self.slices: dict[str, Mapping[str, Any]] = {}
        self.resource_version: str | None = None

    def replace(self, items: list[Mapping[str, Any]], resource_version: str | None) -> None:
        """A fresh list: what it holds is all there is."""
        self.slices = {_name(item): item for item in items}
        self.resource_version = resource_version

    def apply(self, event: str, obj: Mapping[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED, DELETED or BOOKMARK)."""
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self.resource_version = str(version)
        if event in ("ADDED", "MODIFIED"):
            self.slices[_name(obj)] = obj
        elif event == "DELETED":
            self.slices.pop(_name(obj), None)

    def urls(self) -> list[str]:
        """The ready engines' URLs."""
        return urls_from_endpointslices({"items": list(self.slices.values())}, self.port_name, self.scheme)


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _gone(exc: BaseException) -> bool:
    """Whether the API said the version is too old (410 Gone): the watch must start from a new list."""
    if isinstance(exc, ApiError):
        return exc.status.code == 410
    return isinstance(exc, httpx2.HTTPStatusError) and exc.response.status_code == 410


class EndpointSliceWatch:
    """Ready endpoints of a Service, kept current by watching its EndpointSlices."""

    refresh_s: float | None = None  # nothing to poll: changes are pushed

    def __init__(
        self,
        config: EndpointSliceBackends,
        kube_config: KubeConfig | SingleConfig | None = None,
        *,
        backoff_min_s: float = BACKOFF_MIN_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self.config = config
        self._kube_config = kube_config
        self._backoff_min_s = backoff_min_s
        self._backoff_max_s = backoff_max_s
        self._backoff_s = backoff_min_s
        self.cache = SliceCache(config.port_name, config.scheme)
        self.lists = 0  # how many times the slices were listed (the first sync and each 410)
        self._client: GenericAsyncClient | None = None

    def _get_client(self) -> GenericAsyncClient:
        if self._client is None:
            config = self._kube_config if self._kube_config is not None else KubeConfig.from_env()
            params = ConnectionParams(timeout=httpx2.Timeout(10.0))
            self._client = GenericAsyncClient(params, config, namespace=self.config.namespace)
        return self._client

    @property
    def _selector(self) -> str:
        return f"kubernetes.io/service-name={self.config.service}"

    async def _list(self) -> None:
        client = self._get_client()
        request = client.prepare_request(
            "list",
            res=EndpointSlice,
            namespace=self.config.namespace,
            params={"labelSelector": self._selector},
        )
        listing = client.list(request)
        items = [item.to_dict() async for item in listing]
        self.cache.replace(items, listing.resourceVersion)
        self.lists += 1

    async def resolve(self) -> list[str]:
        """List the slices (the first sync); raises DiscoveryError when the API cannot be read."""
        try:
            await self._list()
        except (httpx2.HTTPError, OSError) as exc:
            raise DiscoveryError(f"cannot list EndpointSlices of {self.config.service!r}: {exc}") from exc
        return self.cache.urls()

    async def _watch_once(self, on_change: OnChange) -> None:
        """One watch from the cache's version until the server ends it (raises on failures)."""
        client = self._get_client()
        timeout_s = self.config.watch_timeout_s
        params = {
            "labelSelector": self._selector,
            "resourceVersion": self.cache.resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
        }
        request = client.prepare_request(
            "list", res=EndpointSlice, namespace=self.config.namespace, watch=True, params=params
        )
        urls = self.cache.urls()
        # lightkube renews a watch the server ends; the outer bound catches a connection that died silently
        async with asyncio.timeout(timeout_s + 30):
            async for event, obj in client.watch(request):
                self.cache.apply(event, obj.to_dict())
                if event != "BOOKMARK" and (fresh := self.cache.urls()) != urls:
                    urls = fresh
                    await on_change(urls)
                self._backoff_s = self._backoff_min_s

    async def watch(self, on_change: OnChange) -> None:
        """Keep ``on_change`` told of the URLs, forever (until cancelled)."""
        self._backoff_s = self._backoff_min_s
        while True:
            try:
                if self.cache.resource_version is None:
                    await self._list()
                    await on_change(self.cache.urls())
                await self._watch_once(on_change)
            except TimeoutError:
                continue  # a silent connection: renew the watch from the last version
            except (httpx2.HTTPError, OSError, ValueError) as exc:  # (ValueError: an undecodable event)
                if _gone(exc):
                    log.info(
                        "EndpointSlice watch expired; listing again", extra={"service": self.config.service}
                    )
                    self.cache.resource_version = None
                    continue
                log.warning(
                    "EndpointSlice watch failed; keeping the current backends and reconnecting",
                    extra={
                        "service": self.config.service,
                        "error": str(exc),
                        "retry_in_s": round(self._backoff_s, 2),
                    },
                )
                await asyncio.sleep(self._backoff_s * random.uniform(0.8, 1.2))
                self._backoff_s = min(self._backoff_s * 2, self._backoff_max_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = None
