"""Where engine pods run: GPU feature-discovery labels, GPU taint tolerations, spot nodes, spread."""

from __future__ import annotations

from typing import Any

from kubellm.render.context import RenderContext
from kubellm.spec import GpuSharing

Obj = dict[str, Any]

PRODUCT_LABEL = "nvidia.com/gpu.product"  # set by GPU feature discovery (GFD)
# Labels of spot/preemptible capacity on the common clouds and Karpenter, with the value meaning "spot".
SPOT_LABELS: tuple[tuple[str, str], ...] = (
    ("cloud.google.com/gke-spot", "true"),
    ("eks.amazonaws.com/capacityType", "SPOT"),
    ("karpenter.sh/capacity-type", "spot"),
    ("kubernetes.azure.com/scalesetpriority", "spot"),
)
# Taints those clouds put on spot nodes.
SPOT_TAINTS: tuple[tuple[str, str], ...] = (
    ("cloud.google.com/gke-spot", "true"),
    ("kubernetes.azure.com/scalesetpriority", "spot"),
)


def _gpu_expressions(ctx: RenderContext) -> list[Obj]:
    if ctx.gpu is None:
        return []
    labels = list(ctx.gpu.product_labels)
    if ctx.spec.gpu.sharing in (GpuSharing.TIME_SLICING, GpuSharing.MPS):
        # GFD appends -SHARED to the product label of nodes whose GPUs are shared.
        labels += [f"{label}-SHARED" for label in labels]
    if not labels:
        return [{"key": PRODUCT_LABEL, "operator": "Exists"}]
    return [{"key": PRODUCT_LABEL, "operator": "In", "values": sorted(labels)}]


def node_affinity(ctx: RenderContext) -> Obj | None:
    """Required GPU product (and spot rules); preferred spot when asked."""
    gpu = _gpu_expressions(ctx)
    spot = ctx.spec.placement.spot
    affinity: Obj = {}
    if spot == "require":
        terms = [
            {"matchExpressions": [*gpu, {"key": key, "operator": "In", "values": [value]}]}
            for key, value in SPOT_LABELS
        ]
    else:
        avoid = (
            [{"key": k, "operator": "NotIn", "values": [v]} for k, v in SPOT_LABELS]
            if spot == "avoid"
            else []
        )
        terms = [{"matchExpressions": [*gpu, *avoid]}] if gpu or avoid else []
    if terms:
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
    if spot == "prefer":
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 50, "preference": {"matchExpressions": [{"key": k, "operator": "In", "values": [v]}]}}
            for k, v in SPOT_LABELS
        ]
    return affinity or None


def tolerations(ctx: RenderContext) -> list[Obj]:
    out: list[Obj] = []
    for t in ctx.spec.placement.tolerations:
        if ctx.gpu is None and t.key == "nvidia.com/gpu":
            continue  # a CPU pod must not land on (and waste) a GPU node
        item: Obj = {"key": t.key, "operator": t.operator}
        if t.value is not None and t.operator == "Equal":
            item["value"] = t.value
        if t.effect is not None:
            item["effect"] = t.effect
        out.append(item)
    if ctx.spec.placement.spot != "avoid":
        out += [{"key": k, "operator": "Equal", "value": v, "effect": "NoSchedule"} for k, v in SPOT_TAINTS]
    return out


def spread(ctx: RenderContext, selector: dict[str, str]) -> list[Obj]:
    """Replicas spread over nodes or zones; ScheduleAnyway, so a full cluster still schedules."""
    mode = ctx.spec.placement.spread
    if mode == "none":
        return []
    key = "topology.kubernetes.io/zone" if mode == "zone" else "kubernetes.io/hostname"
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
    ]
