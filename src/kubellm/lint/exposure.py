"""Which pods are reachable from outside the cluster, and through what.

A LoadBalancer or NodePort Service, an OpenShift Route, an Ingress, a Traefik IngressRoute or a Gateway API
HTTPRoute in front of a Service, a NIMService's own `expose` settings, and a Knative Service (public unless it
is labelled cluster-local) each make the pods behind them reachable from outside the cluster. A Traefik route
that passes through middlewares may authenticate there (``guarded``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubellm.lint.context import LintContext
from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import PodView, as_dict, as_list

EXTERNAL_SERVICE_TYPES = ("LoadBalancer", "NodePort")
KNATIVE_VISIBILITY = "networking.knative.dev/visibility"


@dataclass(frozen=True, slots=True)
class Exposure:
    """An object that makes ``pods`` reachable from outside, described as ``how``."""

    obj: K8sObject
    how: str
    path: str
    pods: tuple[PodView, ...]
    guarded: bool = False  # every route passes through middlewares, which may check credentials


def _service_pods(ctx: LintContext, name: str, namespace: str) -> list[PodView]:
    service = ctx.find("Service", name, namespace)
    return ctx.pods_selected(as_dict(service.spec.get("selector")), service.namespace) if service else []


def _ingress_services(ingress: K8sObject) -> Iterator[str]:
    spec = ingress.spec
    default = as_dict(spec.get("defaultBackend") or spec.get("backend"))
    names = [as_dict(default.get("service")).get("name") or default.get("serviceName")]
    for rule in as_list(spec.get("rules")):
        for path in as_list(as_dict(as_dict(rule).get("http")).get("paths")):
            backend = as_dict(as_dict(path).get("backend"))
            names.append(as_dict(backend.get("service")).get("name") or backend.get("serviceName"))
    yield from (str(n) for n in names if n)


def _route_services(obj: K8sObject) -> Iterator[str]:
    if obj.kind == "Route":
        for target in [
            as_dict(obj.spec.get("to")),
            *map(as_dict, as_list(obj.spec.get("alternateBackends"))),
        ]:
            if target.get("name") and target.get("kind", "Service") == "Service":
                yield str(target["name"])
    else:  # HTTPRoute / GRPCRoute
        for rule in as_list(obj.spec.get("rules")):
            for ref in as_list(as_dict(rule).get("backendRefs")):
                ref = as_dict(ref)
                if ref.get("name") and ref.get("kind", "Service") == "Service":
                    yield str(ref["name"])


def _traefik_routes(obj: K8sObject) -> Iterator[tuple[str, bool]]:
    """(Service name, whether the route has middlewares) for each service of a Traefik IngressRoute."""
    for route in as_list(obj.spec.get("routes")):
        route = as_dict(route)
        guarded = bool(as_list(route.get("middlewares")))
        for service in as_list(route.get("services")):
            service = as_dict(service)
            if service.get("name") and service.get("kind", "Service") == "Service":
                yield str(service["name"]), guarded


def exposures(ctx: LintContext) -> list[Exposure]:
    """Every way the manifest set reaches pods from outside the cluster."""
    found: list[Exposure] = []
    for svc in ctx.by_kind("Service"):
        kind = svc.spec.get("type", "ClusterIP")
        if kind in EXTERNAL_SERVICE_TYPES:
            pods = ctx.pods_selected(as_dict(svc.spec.get("selector")), svc.namespace)
            found.append(Exposure(svc, f"{kind} Service {svc.name!r}", "spec.type", tuple(pods)))
    for ingress in ctx.by_kind("Ingress"):
        pods = [p for name in _ingress_services(ingress) for p in _service_pods(ctx, name, ingress.namespace)]
        found.append(Exposure(ingress, f"Ingress {ingress.name!r}", "spec", tuple(pods)))
    for route in ctx.by_kind("Route", "HTTPRoute", "GRPCRoute"):
        pods = [p for name in _route_services(route) for p in _service_pods(ctx, name, route.namespace)]
        found.append(Exposure(route, f"{route.kind} {route.name!r}", "spec", tuple(pods)))
    for route in ctx.by_kind("IngressRoute"):
        if not route.api_version.startswith(("traefik.io/", "traefik.containo.us/")):
            continue
        reached = [
            (p, guarded)
            for name, guarded in _traefik_routes(route)
            for p in _service_pods(ctx, name, route.namespace)
        ]
        found.append(
            Exposure(
                route,
                f"Traefik IngressRoute {route.name!r}",
                "spec.routes",
                tuple(p for p, _ in reached),
                guarded=bool(reached) and all(g for _, g in reached),
            )
        )
    for nim in ctx.by_kind("NIMService"):
        expose = as_dict(nim.spec.get("expose"))
        service_type = as_dict(expose.get("service")).get("type", "ClusterIP")
        routed = as_dict(expose.get("ingress")).get("enabled") is True or bool(expose.get("router"))
        if service_type in EXTERNAL_SERVICE_TYPES or routed:
            how = (
                f"{service_type} Service"
                if service_type in EXTERNAL_SERVICE_TYPES
                else "an ingress or router"
            )
            found.append(
                Exposure(
                    nim, f"NIMService {nim.name!r} ({how})", "spec.expose", tuple(ctx.pods_of_object(nim))
                )
            )
    for knative in ctx.by_kind("KnativeService"):
        if knative.labels.get(KNATIVE_VISIBILITY) != "cluster-local":
            found.append(
                Exposure(
                    knative,
                    f"Knative Service {knative.name!r} (public by default)",
                    "metadata",
                    tuple(ctx.pods_of_object(knative)),
                )
            )
    return [e for e in found if e.pods]


def exposed_pods(ctx: LintContext) -> dict[int, Exposure]:
    """id(pod) → the first exposure that reaches it."""
    reached: dict[int, Exposure] = {}
    for exposure in exposures(ctx):
        for pod in exposure.pods:
            reached.setdefault(id(pod), exposure)
    return reached
