"""Services and NetworkPolicies: default deny, gateway → engines, Prometheus → metrics, egress only where needed."""

from __future__ import annotations

from typing import Any

from kubellm.render.context import GATEWAY_PORT, MONITORING_NAMESPACE, RenderContext
from kubellm.render.object_store import downloads_from_bucket
from kubellm.render.storage import shared_cache
from kubellm.render.workload import ROLE_LABEL

Obj = dict[str, Any]

DNS_EGRESS: Obj = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}
NS_LABEL = "kubernetes.io/metadata.name"


def engine_selector(ctx: RenderContext) -> dict[str, str]:
    """Pods the engine Service routes to: every engine pod, or the leaders across nodes."""
    selector = ctx.selector("engine")
    if ctx.multi_node:
        selector[ROLE_LABEL] = "leader"
    return selector


def engine_service(ctx: RenderContext) -> Obj:
    """Headless: the gateway resolves every ready engine pod and balances itself."""
    ports = [
        {"name": p["name"], "port": p["containerPort"], "targetPort": p["name"], "protocol": "TCP"}
        for p in ctx.adapter.ports()
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.meta(ctx.engine_service, "engine"),
        "spec": {
            "clusterIP": "None",
            "selector": engine_selector(ctx),
            "ports": ports,
        },
    }


def _from_namespaces(ctx: RenderContext) -> list[Obj]:
    peers: list[Obj] = [{"podSelector": {}}]  # the service's own namespace
    for ns in sorted(set(ctx.spec.security.allowed_namespaces)):
        peers.append({"namespaceSelector": {"matchLabels": {NS_LABEL: ns}}})
    return peers


def _monitoring_peer() -> Obj:
    return {"namespaceSelector": {"matchLabels": {NS_LABEL: MONITORING_NAMESPACE}}}


def _policy(ctx: RenderContext, name: str, component: str, selector: dict[str, str], ingress: list[Obj] | None,
            egress: list[Obj] | None) -> Obj:  # fmt: skip
    types: list[str] = []
    spec: Obj = {"podSelector": {"matchLabels": selector}}
    # An empty rule list denies all; the API server stores it as an absent field, so it is left out
    # (written, it would bump the policy's generation on every apply). policyTypes carries the meaning.
    if ingress is not None:
        types.append("Ingress")
        if ingress:
            spec["ingress"] = ingress
    if egress is not None:
        types.append("Egress")
        if egress:
            spec["egress"] = egress
    spec["policyTypes"] = types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.meta(name, component),
        "spec": spec,
    }


def gateway_policy(ctx: RenderContext, engines: dict[str, str], engine_ports: list[Obj]) -> Obj:
    """The gateway's pods: reached from the allowed namespaces (and Prometheus), reaching DNS and ``engines``."""
    gw_port = [{"protocol": "TCP", "port": GATEWAY_PORT}]
    gw_ingress: list[Obj] = [{"from": _from_namespaces(ctx), "ports": gw_port}]
    if ctx.spec.observability.service_monitor:
        gw_ingress.append({"from": [_monitoring_peer()], "ports": gw_port})
    gw_egress: list[Obj] = [
        DNS_EGRESS,
        {"to": [{"podSelector": {"matchLabels": engines}}], "ports": engine_ports},
    ]
    return _policy(ctx, ctx.gateway_name, "gateway", ctx.selector("gateway"), gw_ingress, gw_egress)


def network_policies(ctx: RenderContext) -> list[Obj]:
    spec = ctx.spec
    out: list[Obj] = []
    # Default deny for every pod of this service.
    out.append(
        _policy(ctx, f"{ctx.name}-default-deny", "network", {"app.kubernetes.io/instance": ctx.name}, [], [])
    )

    engine_ports = [{"protocol": "TCP", "port": p["containerPort"]} for p in ctx.adapter.ports()]
    api_port = [{"protocol": "TCP", "port": ctx.adapter.port}]
    ingress: list[Obj] = []
    if ctx.inference_pool:
        # The Gateway's proxies (in the Gateway's namespace) call the engines; the endpoint picker reads /metrics.
        proxies = [{"namespaceSelector": {"matchLabels": {NS_LABEL: ctx.gateway_parent()[0]}}}]
        ingress.append({"from": proxies, "ports": api_port})
        picker = [{"podSelector": {"matchLabels": ctx.selector("endpoint-picker")}}]
        ingress.append({"from": picker, "ports": engine_ports})
    elif spec.gateway.enabled:
        ingress.append(
            {"from": [{"podSelector": {"matchLabels": ctx.gateway_selector()}}], "ports": api_port}
        )
    else:
        ingress.append({"from": _from_namespaces(ctx), "ports": api_port})
    if spec.observability.service_monitor:
        ingress.append({"from": [_monitoring_peer()], "ports": engine_ports})
    egress: list[Obj] = [DNS_EGRESS]
    if ctx.multi_node:
        # Leader and workers of a group talk NCCL/Ray to each other on many ports.
        group = [{"podSelector": {"matchLabels": ctx.selector("engine")}}]
        ingress.append({"from": group})
        egress.append({"to": group})
    out.append(_policy(ctx, f"{ctx.name}-engine", "engine", ctx.selector("engine"), ingress, egress))

    if ctx.renders_gateway:
        out.append(gateway_policy(ctx, ctx.selector("engine"), engine_ports))

    if spec.model.source.startswith("hf://") or downloads_from_bucket(ctx):
        if spec.security.egress_cidrs:
            hub: Obj = {"to": [{"ipBlock": {"cidr": c}} for c in sorted(spec.security.egress_cidrs)]}
        else:
            hub = {"ports": [{"protocol": "TCP", "port": 443}]}
        component = "prefetch" if shared_cache(ctx) else "engine"
        selector = ctx.selector(component)
        out.append(_policy(ctx, f"{ctx.name}-model-download", component, selector, None, [DNS_EGRESS, hub]))
    return out
