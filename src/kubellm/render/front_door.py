"""Many services, one front door: render several specs together, one gateway per namespace.

Services that share a namespace get one gateway (``<namespace>-gateway``) with one pool per served
model, so a single OpenAI endpoint serves them all, and one GPU ResourceQuota (``<namespace>-gpus``)
that is the sum of what each may use at full scale — never one service's quota blocking another's pods.
The gateway's settings (host, TLS, keys, limits, replicas) must agree across the services it fronts;
routing, the cold-start hold and the health path (each engine's own) stay per pool. The gateway
config comes from the one builder (``kubellm.render.gateway_config``) that single services and
``kubellm up`` use.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from kubellm.errors import UsageError
from kubellm.planning.result import Plan
from kubellm.render.autoscaling import pod_disruption_budgets
from kubellm.render.context import GATEWAY_KEYS_DIR, GATEWAY_PORT, RenderContext, RenderOptions
from kubellm.render.core import render as render_one
from kubellm.render.core import render_context, sort_objects
from kubellm.render.gateway import DRAIN_S, gateway_objects
from kubellm.render.gateway_config import engine_pool, gateway_config
from kubellm.render.network import gateway_policy
from kubellm.render.observability import gateway_monitor
from kubellm.render.tenancy import gpu_quota_hard, namespace, quota_object, service_account
from kubellm.spec import LLMService
from kubellm.spec.gateway import DnsBackends, GatewayConfig, HealthCheckConfig, ListenConfig, PoolConfig

Obj = dict[str, Any]

# Spec fields that shape the one gateway: the services it fronts must agree on them.
SHARED_FIELDS = (
    "gateway.replicas", "gateway.host", "gateway.tls_secret", "gateway.cert_manager_issuer", "gateway.ingress",
    "gateway.gateway_ref", "gateway.requests_per_minute", "gateway.tokens_per_minute", "gateway.max_body_bytes",
    "gateway.max_tokens_cap", "security.api_key_secret", "security.allowed_namespaces", "security.run_as_user",
    "observability.service_monitor",
)  # fmt: skip


def _field(spec: LLMService, path: str) -> Any:
    section, name = path.split(".")
    return getattr(getattr(spec, section), name)


def _agree(ctxs: list[RenderContext], namespace: str) -> None:
    first = ctxs[0]
    for ctx in ctxs[1:]:
        for path in SHARED_FIELDS:
            a, b = _field(first.spec, path), _field(ctx.spec, path)
            if a != b:
                raise UsageError(
                    f"{path}: services {first.name} ({a!r}) and {ctx.name} ({b!r}) share namespace {namespace}, "
                    "and one gateway serves them both",
                    f"give both the same {path}, or deploy them to different namespaces",
                )
    names = [c.served_name for c in ctxs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UsageError(
            f"served model name {duplicated[0]!r} is served by two services in namespace {first.namespace}: the "
            "gateway routes by model name",
            "set a distinct model.served_name on each",
        )


def _pool(ctx: RenderContext) -> PoolConfig:
    backends = DnsBackends(name=ctx.engine_dns, port=ctx.adapter.port)
    return engine_pool(ctx.spec, ctx.plan, backends, ctx.adapter.table)


def _front(lead: RenderContext) -> RenderContext:
    """A context for the namespace's gateway: named after the namespace, settings from the first service."""
    spec = lead.spec.model_copy(
        update={
            "metadata": lead.spec.metadata.model_copy(update={"name": lead.namespace}),
            "security": lead.spec.security.model_copy(update={"cloud_identity": None}),
        }
    )
    return replace(lead, plan=lead.plan.model_copy(update={"spec": spec}))


def shared_gateway_config(front: RenderContext, ctxs: list[RenderContext]) -> GatewayConfig:
    spec = front.spec
    return gateway_config(
        spec,
        [_pool(c) for c in ctxs],
        listen=ListenConfig(host="0.0.0.0", port=GATEWAY_PORT),
        health=HealthCheckConfig(path=front.adapter.gateway_health_path),
        api_keys_file=f"{GATEWAY_KEYS_DIR}/keys" if spec.security.api_key_secret else None,
        drain_timeout_s=float(DRAIN_S),
    )


def _shared_gateway(front: RenderContext, ctxs: list[RenderContext]) -> list[Obj]:
    ports = sorted({p["containerPort"] for c in ctxs for p in c.adapter.ports()})
    engines = {"app.kubernetes.io/component": "engine", "app.kubernetes.io/part-of": "kubellm"}
    own_account = any(c.name == front.name for c in ctxs)  # a service named like its namespace has it
    out = [
        *([] if own_account else [service_account(front)]),
        *gateway_objects(front, shared_gateway_config(front, ctxs)),
        *pod_disruption_budgets(front, ("gateway",)),
        gateway_policy(front, engines, [{"protocol": "TCP", "port": p} for p in ports]),
    ]
    if front.spec.observability.service_monitor:
        out.append(gateway_monitor(front))
    return out


def _namespace_objects(ctxs: list[RenderContext], options: RenderOptions) -> list[Obj]:
    out: list[Obj] = []
    lead = ctxs[0]
    if options.namespace_object:
        # A hostPath cache anywhere in the namespace needs the 'privileged' Pod Security level.
        host = next((c for c in ctxs if c.spec.storage.model_cache == "hostPath"), lead)
        ns = namespace(replace(host, options=options))
        if ns is not None:
            out.append(ns)
    if any(c.spec.metadata.namespace_only for c in ctxs):
        return out  # a namespace-scoped user can write neither the Namespace nor its quota
    hard: dict[str, int] = defaultdict(int)
    for ctx in ctxs:
        for resource, count in gpu_quota_hard(ctx).items():
            hard[resource] += count
    if hard:
        out.append(quota_object(_front(lead), dict(hard)))
    return out


def render_services(plans: list[Plan], options: RenderOptions | None = None) -> list[Obj]:
    """Every object of several services: per namespace one quota and, when two or more services there use
    the gateway, one gateway with a pool per model; the same plans give the same objects in the same order."""
    options = options or RenderOptions()
    names = [(p.spec.metadata.namespace, p.spec.metadata.name) for p in plans]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise UsageError(f"service {dup[1]} is given twice in namespace {dup[0]}", "give each spec once")
    groups: dict[str, list[Plan]] = defaultdict(list)
    for p in plans:
        groups[p.spec.metadata.namespace].append(p)
    objects: list[Obj] = []
    for ns in sorted(groups):
        group = sorted(groups[ns], key=lambda p: p.spec.metadata.name)
        fronted = [p for p in group if p.spec.gateway.enabled]
        shared = len(fronted) >= 2
        per_service = replace(
            options, namespace_object=False, service_quota=False, gateway_instance=ns if shared else None
        )
        ctxs = [render_context(p, options=per_service) for p in group]
        for p in group:
            instance = ns if shared and p.spec.gateway.enabled else None
            objects += render_one(p, options=replace(per_service, gateway_instance=instance))
        objects += _namespace_objects(ctxs, options)
        if shared:
            fronted_ctxs = [c for c in ctxs if c.spec.gateway.enabled]
            _agree(fronted_ctxs, ns)
            objects += _shared_gateway(_front(fronted_ctxs[0]), fronted_ctxs)
    return sort_objects(objects)
