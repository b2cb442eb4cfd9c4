"""From flags or a file to a GatewayConfig, and from a config to live pools, keys and discovery sources."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from kubellm.errors import UsageError
from kubellm.gateway.admission import ApiKeyStore
from kubellm.gateway.discovery import Discovery, DnsDiscovery, StaticDiscovery
from kubellm.gateway.endpointslices import EndpointSliceWatch
from kubellm.gateway.pools import Pool
from kubellm.spec.gateway import (
    ROUTING_POLICIES,
    AdmissionConfig,
    DnsBackends,
    EndpointSliceBackends,
    GatewayConfig,
    ListenConfig,
    PoolConfig,
    StaticBackends,
)


def quick_config(
    model: str,
    backends: list[str],
    *,
    routing: str = "least-outstanding",
    api_keys_file: str | None = None,
    max_body_bytes: int | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> GatewayConfig:
    """The config `kubellm gateway --model NAME --backend URL …` stands for: one static pool."""
    if routing not in ROUTING_POLICIES:
        raise UsageError(f"unknown routing policy {routing!r}", f"use one of {', '.join(ROUTING_POLICIES)}")
    for url in backends:
        if not url.startswith(("http://", "https://")):
            raise UsageError(
                f"backend {url!r} is not an http(s) URL", "write e.g. --backend http://127.0.0.1:8000"
            )
    admission = AdmissionConfig(api_keys_file=api_keys_file)
    if max_body_bytes is not None:
        if max_body_bytes < 1024:
            raise UsageError(f"--max-body-bytes {max_body_bytes} is too small", "allow at least 1024 bytes")
        admission.max_body_bytes = max_body_bytes
    return GatewayConfig(
        listen=ListenConfig(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key),
        pools=[PoolConfig(name=model, backends=StaticBackends(urls=backends), routing=routing)],  # type: ignore[arg-type]
        admission=admission,
    )


def load_keys(config: GatewayConfig) -> ApiKeyStore:
    """The key store of the config's keys file (empty = open gateway)."""
    path = config.admission.api_keys_file
    return ApiKeyStore.from_file(path) if path else ApiKeyStore()


def build_pools(config: GatewayConfig, clock: Callable[[], float], seed: int = 0) -> dict[str, Pool]:
    """Live pools for each configured pool, with fallback and long-context pools linked."""
    pools = {
        p.name: Pool(
            p, config.retries, start_healthy=not config.health_checks.enabled, clock=clock, seed=seed + i
        )
        for i, p in enumerate(config.pools)
    }
    for pool in pools.values():
        if pool.config.fallback_pool:
            pool.fallback = pools[pool.config.fallback_pool]
        if pool.config.long_context:
            pool.long_context = pools[pool.config.long_context.pool]
    return pools


def make_discovery(backends: StaticBackends | DnsBackends | EndpointSliceBackends) -> Discovery:
    """The discovery source for a pool's ``backends`` config."""
    if isinstance(backends, StaticBackends):
        return StaticDiscovery(backends.urls)
    if isinstance(backends, DnsBackends):
        return DnsDiscovery(backends)
    return EndpointSliceWatch(backends)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts local connections."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
