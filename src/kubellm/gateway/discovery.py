"""Where a pool's engines are: static URLs, DNS of a headless Service, or Kubernetes EndpointSlices.

Each source has ``async def resolve() -> list[str]`` (engine base URLs) and a refresh interval.
The EndpointSlice client is thin on purpose: one authenticated GET with the pod's service-account
token; the decision of which addresses count lives in ``urls_from_endpointslices``, a pure function
tested on recorded API objects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from kubellm.spec.gateway import DnsBackends, EndpointSliceBackends, StaticBackends

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class DiscoveryError(Exception):
    """A discovery source could not be read this time (the previous endpoints stay in use)."""


class Discovery(Protocol):
    """A source of engine URLs."""

    refresh_s: float | None

    async def resolve(self) -> list[str]:
        """The current engine base URLs."""
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


class EndpointSliceDiscovery:
    """Ready endpoints of a Service from the Kubernetes API, listed every ``refresh_s``."""

    def __init__(
        self,
        config: EndpointSliceBackends,
        api_base: str | None = None,
        token_path: Path | None = None,
        ca_path: Path | None = None,
    ) -> None:
        self._config = config
        self.refresh_s: float | None = config.refresh_s
        if api_base is None:
            host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
            port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
            api_base = _url("https", host, int(port))
        self._api_base = api_base.rstrip("/")
        self._token_path = token_path if token_path is not None else SERVICE_ACCOUNT_DIR / "token"
        self._ca_path = ca_path if ca_path is not None else SERVICE_ACCOUNT_DIR / "ca.crt"

    def _path(self) -> str:
        ns, svc = quote(self._config.namespace), quote(f"kubernetes.io/service-name={self._config.service}")
        return f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector={svc}"

    async def resolve(self) -> list[str]:
        headers = {"Accept": "application/json"}
        if self._token_path.exists():  # re-read: projected tokens rotate
            headers["Authorization"] = "Bearer " + self._token_path.read_text().strip()
        ssl_context: ssl.SSLContext | bool = True
        if self._api_base.startswith("https://") and self._ca_path.exists():
            ssl_context = ssl.create_default_context(cafile=str(self._ca_path))
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self._api_base + self._path(), headers=headers, ssl=ssl_context) as resp,
            ):
                text = await resp.text()
                if resp.status != 200:
                    raise DiscoveryError(f"listing EndpointSlices answered {resp.status}: {text[:200]}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DiscoveryError(f"cannot list EndpointSlices: {exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DiscoveryError("EndpointSlice list is not JSON") from exc
        return urls_from_endpointslices(data, self._config.port_name, self._config.scheme)


def make_discovery(backends: StaticBackends | DnsBackends | EndpointSliceBackends) -> Discovery:
    """The discovery source for a pool's ``backends`` config."""
    if isinstance(backends, StaticBackends):
        return StaticDiscovery(backends.urls)
    if isinstance(backends, DnsBackends):
        return DnsDiscovery(backends)
    return EndpointSliceDiscovery(backends)
