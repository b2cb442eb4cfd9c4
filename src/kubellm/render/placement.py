"""Where engine pods run: the node labels that name the GPU type on the cluster's provider, the GPU-pool and
spot taints to tolerate, spot preferences, and replica spread.

The labels come from the catalog's provider data (``kubellm.catalog.providers``): GKE's
``cloud.google.com/gke-accelerator``, the well-known ``node.kubernetes.io/instance-type`` on EKS and AKS (the
instance shape fixes the GPU model), GPU feature discovery's ``nvidia.com/gpu.product`` where the GPU Operator
runs (OpenShift). A required affinity only ever names a label the provider's GPU nodes carry; for a generic
cluster, where nothing is known, any of the labels that name the GPU type satisfies it (one node-selector term
each, ORed).
"""

from __future__ import annotations

from typing import Any

from kubellm.catalog.providers import (
    GFD_PRODUCT_LABEL,
    GKE_ACCELERATOR_LABEL,
    INSTANCE_TYPE_LABEL,
    Provider,
    all_providers,
    provider,
)
from kubellm.errors import UsageError
from kubellm.render.context import RenderContext
from kubellm.spec import GpuSharing

Obj = dict[str, Any]

PRODUCT_LABEL = GFD_PRODUCT_LABEL  # set by GPU feature discovery (GFD)


def cluster_provider(ctx: RenderContext) -> Provider:
    return provider(ctx.spec.placement.provider)


def _gfd_values(ctx: RenderContext) -> list[str]:
    assert ctx.gpu is not None
    labels = list(ctx.gpu.product_labels)
    if ctx.spec.gpu.sharing in (GpuSharing.TIME_SLICING, GpuSharing.MPS):
        # GFD appends -SHARED to the product label of nodes whose GPUs are shared.
        labels += [f"{label}-SHARED" for label in labels]
    return sorted(labels)


def _shape_providers(ctx: RenderContext, p: Provider, kind: str) -> list[Provider]:
    """Whose instance rows give the values of an 'accelerator' or 'instance' selection."""
    if p.name != "generic":
        return [p]
    others = all_providers().values()
    if kind == "accelerator":
        return [o for o in others if o.gpu_label == GKE_ACCELERATOR_LABEL]
    return [o for o in others if o.gpu_label == INSTANCE_TYPE_LABEL]


def _shape_values(ctx: RenderContext, p: Provider, kind: str) -> list[str]:
    assert ctx.gpu is not None
    per_pod = ctx.plan.resources.gpu_count if ctx.spec.gpu.sharing == GpuSharing.EXCLUSIVE else 1
    values: set[str] = set()
    for owner in _shape_providers(ctx, p, kind):
        for shape in owner.instances_for(ctx.gpu.name):
            if kind == "accelerator" and shape.accelerator:
                values.add(shape.accelerator)
            elif kind == "instance" and shape.gpus >= per_pod:
                values.add(shape.machine)
    return sorted(values)


def _pinned_machine(ctx: RenderContext, p: Provider) -> str | None:
    pinned = ctx.spec.placement.instance_type
    if pinned is None:
        return None
    shape = p.instance(pinned)
    return shape.machine if shape is not None else pinned


def gpu_type_terms(ctx: RenderContext) -> list[list[Obj]]:
    """Node-selector terms (ORed) that each pin the GPU type with a label the provider's GPU nodes carry."""
    if ctx.gpu is None:
        return []
    p = cluster_provider(ctx)
    pinned = _pinned_machine(ctx, p)
    extra: list[Obj] = [{"key": k, "operator": "In", "values": [v]} for k, v in _sharing_labels(ctx, p)]
    terms: list[list[Obj]] = []
    for kind in p.gpu_selection:
        if kind == "gfd":
            key, values = GFD_PRODUCT_LABEL, _gfd_values(ctx)
        elif kind == "accelerator":
            key, values = GKE_ACCELERATOR_LABEL, _shape_values(ctx, p, kind)
        else:
            key, values = INSTANCE_TYPE_LABEL, [pinned] if pinned else _shape_values(ctx, p, kind)
        if values:
            terms.append([{"key": key, "operator": "In", "values": values}, *extra])
    if not terms and p.name != "generic":
        known = sorted({i.gpu for i in p.instances})
        raise UsageError(
            f"gpu.type {ctx.gpu.name}: {p.title} has no instance shape with this GPU in kubellm's catalog, so no node "
            "label can select it",
            f"use a GPU {p.name} offers ({', '.join(known)}), name the shape in placement.instance_type, or set "
            "placement.gpu_affinity: none",
        )
    if pinned and p.name != "generic" and all(t[0]["key"] != INSTANCE_TYPE_LABEL for t in terms):
        terms = [[*t, {"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": [pinned]}] for t in terms]
    return terms


def _sharing_labels(ctx: RenderContext, p: Provider) -> list[tuple[str, str]]:
    """Provider labels of GPU sharing (GKE's time-sharing/MPS strategy, its MIG partition size)."""
    sharing = ctx.spec.gpu.sharing
    if sharing == GpuSharing.MIG and p.mig_label and ctx.spec.gpu.mig_profile:
        return [(p.mig_label, ctx.spec.gpu.mig_profile)]
    return list(p.sharing_labels.get(sharing.value, ()))


def node_affinity(ctx: RenderContext) -> Obj | None:
    """The GPU type (required, preferred, or left out per placement.gpu_affinity) and the spot rules."""
    p = cluster_provider(ctx)
    mode = ctx.spec.placement.gpu_affinity
    gpu_terms = gpu_type_terms(ctx) if mode != "none" else []
    required_gpu = gpu_terms if mode == "required" else []
    spot = ctx.spec.placement.spot
    spot_labels = list(p.spot_labels)
    affinity: Obj = {}
    if spot == "require":
        bases = required_gpu or [[]]
        terms = [
            [*base, {"key": k, "operator": "In", "values": [v]}] for base in bases for k, v in spot_labels
        ]
    else:
        avoid = (
            [{"key": k, "operator": "NotIn", "values": [v]} for k, v in spot_labels]
            if spot == "avoid"
            else []
        )
        bases = required_gpu or ([[]] if avoid else [])
        terms = [[*base, *avoid] for base in bases]
    terms = [t for t in terms if t]
    if terms:
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]
        }
    preferred: list[Obj] = []
    if mode == "preferred":
        preferred += [{"weight": 100, "preference": {"matchExpressions": t}} for t in gpu_terms]
    if spot == "prefer":
        preferred += [
            {"weight": 50, "preference": {"matchExpressions": [{"key": k, "operator": "In", "values": [v]}]}}
            for k, v in spot_labels
        ]
    if preferred:
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return affinity or None


def tolerations(ctx: RenderContext) -> list[Obj]:
    """The spec's tolerations, the provider's GPU-pool taints, and its spot taints unless spot is avoided."""
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
    p = cluster_provider(ctx)
    if ctx.gpu is not None:
        for taint in p.gpu_taints:
            if not _tolerated(out, taint.key, taint.value, taint.effect):
                out.append(_toleration(taint.key, taint.value, taint.effect))
    if ctx.spec.placement.spot != "avoid":
        for key, value in p.spot_taints:
            if not _tolerated(out, key, value, "NoSchedule"):
                out.append(_toleration(key, value, "NoSchedule"))
    return out


def _toleration(key: str, value: str | None, effect: str) -> Obj:
    if value is None:
        return {"key": key, "operator": "Exists", "effect": effect}
    return {"key": key, "operator": "Equal", "value": value, "effect": effect}


def _tolerated(existing: list[Obj], key: str, value: str | None, effect: str) -> bool:
    for t in existing:
        if t.get("key") != key or t.get("effect", effect) != effect:
            continue
        if t["operator"] == "Exists" or t.get("value") == value:
            return True
    return False


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
