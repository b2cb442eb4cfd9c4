"""Which pool and which backend take a request: model names and aliases, the prompt limit,
long-context and fallback pools, and the wait (or the 503) when a pool has no backend available."""

from __future__ import annotations

from kubellm.gateway.metrics import GatewayMetrics
from kubellm.gateway.payload import ParsedRequest
from kubellm.gateway.pools import Pool
from kubellm.gateway.rejection import Rejection
from kubellm.gateway.routing import RouteRequest
from kubellm.spec.gateway import GatewayConfig


class Dispatcher:
    """Picks the pool of a request and a backend of it (or of its fallback) for each attempt."""

    def __init__(self, config: GatewayConfig, pools: dict[str, Pool], metrics: GatewayMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.by_model = {name: pool for pool in pools.values() for name in (pool.name, *pool.config.aliases)}

    def pool_for(self, parsed: ParsedRequest) -> Pool:
        pool = self.by_model.get(parsed.model)
        if pool is None:
            raise Rejection(
                404,
                f"model {parsed.model!r} is not served here; GET /v1/models lists the models",
                "unknown_model",
                code="model_not_found",
                param="model",
            )
        limit = self.config.admission.max_prompt_tokens
        if limit is not None and parsed.prompt_tokens > limit:
            raise Rejection(
                400,
                f"prompt of about {parsed.prompt_tokens} tokens is over the limit of {limit}",
                "prompt_too_long",
                code="context_length_exceeded",
                param="messages",
            )
        long_context = pool.config.long_context
        if long_context is not None and pool.long_context is not None:
            wanted = parsed.prompt_tokens + (parsed.max_tokens or 0)
            if wanted > long_context.threshold_tokens:
                return pool.long_context
        return pool

    async def choose(self, pool: Pool, route: RouteRequest, tried: set[str]) -> tuple[Pool, str]:
        url = pool.pick(route, tried)
        fallback = pool.fallback
        if fallback is not None and (url is None or pool.saturated()):
            spill = fallback.pick(route, tried)
            if spill is not None and not fallback.saturated():
                self.metrics.spills.inc((pool.name, fallback.name))
                return fallback, spill
        if url is not None:
            return pool, url
        if tried:
            raise Rejection(502, "every backend tried failed", "upstream_failed", code="bad_gateway")
        if not pool.holds_when_empty:
            wait_s = pool.next_readmission_s()
            raise Rejection(
                503,
                f"no backend of {pool.name!r} is available; retry later",
                "no_backend",
                code="unavailable",
                retry_after_s=wait_s if wait_s is not None else self.config.health_checks.interval_s,
            )
        timeout_s = pool.config.cold_start_timeout_s or self.config.cold_start_timeout_s
        if not await pool.wait_ready(timeout_s):
            raise Rejection(
                503,
                f"no backend of {pool.name!r} became ready within {timeout_s:g} s",
                "no_backend",
                code="unavailable",
                retry_after_s=10.0,
            )
        url = pool.pick(route, tried)
        if url is None:
            raise Rejection(
                503,
                f"no backend of {pool.name!r} is ready",
                "no_backend",
                code="unavailable",
                retry_after_s=10.0,
            )
        return pool, url

    def can_retry(self, pool: Pool, tried: set[str]) -> bool:
        """Whether another backend (of the pool or its fallback) could take a retry."""
        fallback = pool.fallback
        return any(url not in tried for url in pool.available) or (
            fallback is not None and any(url not in tried for url in fallback.available)
        )
