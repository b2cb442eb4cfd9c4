"""The one builder of the gateway's config (a ``GatewayConfig``) for a service: on a cluster (render) and
in ``kubellm up`` (local) alike, so routing, limits, keys and the per-backend cap cannot drift apart.

What differs between the two is passed in: where the gateway listens, how it finds the engines
(DNS of the headless Service, or the local replicas' URLs), and the drain time. Each pool carries the
health path and model name of the engine behind it (from its engine table), so one gateway can front
different engines (Triton beside vLLM).
"""

from __future__ import annotations

from kubellm.engines import EngineTable, served_name
from kubellm.planning.result import Plan
from kubellm.spec import LLMService
from kubellm.spec.gateway import (
    AdmissionConfig,
    Backends,
    GatewayConfig,
    HealthCheckConfig,
    ListenConfig,
    PoolConfig,
)


def engine_pool(spec: LLMService, plan: Plan | None, backends: Backends, engine: EngineTable) -> PoolConfig:
    """The pool of one service's engines: its served name, routing, and a per-backend cap of the planned
    ``max_num_seqs`` (beyond it a replica only queues). From ``engine``, the table of the program the
    backends run: the name they expect when it is not the served name (Triton's ensemble) and the path
    the gateway probes (vLLM's /health, Triton's /health/ready)."""
    g = spec.gateway
    return PoolConfig(
        name=served_name(spec),
        upstream_model=engine.upstream_model,
        health_path=engine.readiness.gateway_path,
        backends=backends,
        routing=g.routing,
        max_outstanding_per_backend=plan.settings.max_num_seqs if plan is not None else None,
        cold_start_timeout_s=g.cold_start_timeout_s if spec.scaling.scale_to_zero else None,
        # discovered engines that scale to zero come back: hold requests for them; static URLs (local
        # mode) cannot, so the gateway answers 503 at once when none is up
        scale_from_zero=spec.scaling.scale_to_zero if backends.kind != "static" else None,
    )


def admission(spec: LLMService, api_keys_file: str | None) -> AdmissionConfig:
    """The spec's keys and limits as the gateway's admission section."""
    g = spec.gateway
    return AdmissionConfig(
        api_keys_file=api_keys_file,
        requests_per_minute=g.requests_per_minute,
        tokens_per_minute=g.tokens_per_minute,
        max_body_bytes=g.max_body_bytes,
        max_tokens_cap=g.max_tokens_cap,
    )


def gateway_config(
    spec: LLMService,
    pools: list[PoolConfig],
    *,
    listen: ListenConfig,
    health: HealthCheckConfig,
    api_keys_file: str | None,
    drain_timeout_s: float,
) -> GatewayConfig:
    """The gateway in front of ``pools``, with the spec's admission limits and cold-start hold."""
    return GatewayConfig(
        listen=listen,
        pools=pools,
        admission=admission(spec, api_keys_file),
        health_checks=health,
        cold_start_timeout_s=spec.gateway.cold_start_timeout_s,
        drain_timeout_s=drain_timeout_s,
        log_prompts=False,
    )
