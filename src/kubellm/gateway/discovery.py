"""Where a pool's engines are: static URLs, DNS of a headless Service, or Kubernetes EndpointSlices.

Each source has ``async def resolve() -> list[str]`` (engine base URLs) and a refresh interval for
polling; a source that is told of changes instead (the EndpointSlice watch in ``endpointslices``)
also has ``async def watch(on_change)``. Which EndpointSlice addresses count is decided by
``urls_from_endpointslices``, a pure function tested on recorded API objects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from kubellm.spec.gateway import DnsBackends


class DiscoveryError(Exception):
    """A discovery source could not be read this time (the previous endpoints stay in use)."""


class Discovery(Protocol):
    """A source of engine URLs."""

    refresh_s: float | None

    async def resolve(self) -> list[str]:
        """The current engine base URLs."""
        ...


@runtime_checkable
class WatchingDiscovery(Discovery, Protocol):
    """A source that pushes changes: ``watch`` runs until cancelled, calling ``on_change`` with the URLs."""

    async def watch(self, on_change: Callable[[list[str]], Awaitable[None]]) -> None:
        """Tell ``on_change`` of every change of the URLs."""
        ...

    async def close(self) -> None:
        """Release the connection to the source."""
        ...


def _url(scheme: str, host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"{scheme}://{host}:{port}"


class StaticDiscovery:
    """A fixed list."""

    refresh_s: float | None = None

    def __init__(self, urls: list[str]) -> None:
        self._urls = list(urls)

    async def resolve(self) -> list[str]:
        return list(self._urls)


class DnsDiscovery:
    """The A/AAAA records of a (headless Service) name, re-resolved every ``refresh_s``."""

    def __init__(self, config: DnsBackends) -> None:
        self._config = config
        self.refresh_s: float | None = config.refresh_s

    async def resolve(self) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self._config.name, self._config.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DiscoveryError(f"cannot resolve {self._config.name}: {exc}") from exc
        hosts = sorted({str(info[4][0]) for info in infos})
        return [_url(self._config.scheme, host, self._config.port) for host in hosts]


def urls_from_endpointslices(slice_list: Mapping[str, Any], port_name: str | None, scheme: str) -> list[str]:
    """Engine URLs of the ready endpoints in an ``EndpointSliceList`` (discovery.k8s.io/v1).

    An endpoint counts when ``conditions.ready`` is not false (unset means ready, per the API) and it
    is not terminating; the port is the one named ``port_name`` or the slice's first port.
    """
    urls: set[str] = set()
    for item in slice_list.get("items") or []:
        if not isinstance(item, dict):
            continue
        ports = [p for p in item.get("ports") or [] if isinstance(p, dict) and isinstance(p.get("port"), int)]
        if port_name is not None:
            ports = [p for p in ports if p.get("name") == port_name]
        if not ports:
            continue
        port = int(ports[0]["port"])
        for endpoint in item.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready") is False or conditions.get("terminating") is True:
                continue
            for address in endpoint.get("addresses") or []:
                urls.add(_url(scheme, str(address), port))
    return sorted(urls)
