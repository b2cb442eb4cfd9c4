"""render(plan) → the list of Kubernetes objects (plain dicts), in a stable order."""

from __future__ import annotations

from typing import Any

from kubellm.catalog import Catalog
from kubellm.planning.result import Plan
from kubellm.render.autoscaling import autoscaling_objects, pod_disruption_budgets
from kubellm.render.checks import check
from kubellm.render.context import RenderContext, RenderOptions, build_context
from kubellm.render.gateway import gateway_objects
from kubellm.render.inference_pool import inference_extension_objects
from kubellm.render.jobs import engine_build_objects
from kubellm.render.network import engine_service, network_policies
from kubellm.render.object_store import bucket_objects
from kubellm.render.observability import dashboard, prometheus_rule, service_monitors
from kubellm.render.storage import cache_pvc, prefetch_configmap, prefetch_job
from kubellm.render.tenancy import gpu_quota, namespace, service_account
from kubellm.render.workload import engine_workload

Obj = dict[str, Any]

# Apply order: what others refer to comes first (namespace, classes, identity, config, storage), then
# workloads, then what routes to or watches them. The one order render and apply use (delete runs it
# backwards); kinds not listed go last.
KIND_ORDER = (
    "Namespace", "PriorityClass", "RuntimeClass", "ResourceQuota", "LimitRange", "ServiceAccount", "Role",
    "RoleBinding", "Secret", "ConfigMap", "PersistentVolume", "PersistentVolumeClaim", "Job", "Service",
    "Deployment", "StatefulSet", "LeaderWorkerSet", "InferencePool", "Ingress", "HTTPRoute", "PodDisruptionBudget",
    "HorizontalPodAutoscaler", "TriggerAuthentication", "ScaledObject", "NetworkPolicy", "ServiceMonitor",
    "PodMonitor", "PrometheusRule",
)  # fmt: skip


def _rank(obj: Obj) -> tuple[int, str, str]:
    kind = obj["kind"]
    index = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return index, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def sort_objects(objects: list[Obj]) -> list[Obj]:
    """Apply order: by kind (what others refer to first), then namespace and name."""
    return sorted(objects, key=_rank)


def render_context(
    plan: Plan, catalog: Catalog | None = None, options: RenderOptions | None = None
) -> RenderContext:
    """Check the plan for invalid combinations and build the shared naming context.

    ``catalog`` is accepted for callers that pass one; the plan carries the model and GPU it used."""
    ctx = build_context(plan, options or RenderOptions())
    check(plan, ctx.adapter, ctx.adapter.can_serve(plan.model_arch))
    return ctx


def render(plan: Plan, catalog: Catalog | None = None, options: RenderOptions | None = None) -> list[Obj]:
    """Every object of the service, derived from the plan; same plan, same objects, same order."""
    ctx = render_context(plan, catalog, options)
    objects: list[Obj | None] = [
        namespace(ctx),
        gpu_quota(ctx),
        service_account(ctx),
        prefetch_configmap(ctx),
        cache_pvc(ctx),
        *bucket_objects(ctx),
        prefetch_job(ctx),
        *engine_build_objects(ctx),
        engine_service(ctx),
        engine_workload(ctx),
        *gateway_objects(ctx),
        *inference_extension_objects(ctx),
        *pod_disruption_budgets(ctx),
        *autoscaling_objects(ctx),
        *network_policies(ctx),
        *service_monitors(ctx),
        prometheus_rule(ctx),
        dashboard(ctx),
    ]
    return sorted((o for o in objects if o is not None), key=_rank)


def images(objects: list[Obj]) -> list[str]:
    """Every container image the objects run (init containers included), sorted and unique."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("containers", "initContainers"):
                for c in node.get(key, []) or []:
                    if isinstance(c, dict) and "image" in c:
                        found.add(c["image"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(objects)
    return sorted(found)
