"""Namespace (with Pod Security labels), the ServiceAccount without a token, and the GPU ResourceQuota."""

from __future__ import annotations

from typing import Any

from kubellm.render.context import RenderContext

Obj = dict[str, Any]


def namespace(ctx: RenderContext) -> Obj | None:
    if not ctx.options.namespace_object:
        return None
    # hostPath volumes are outside every Pod Security level but 'privileged'; enforce what holds, warn on restricted.
    enforce = "privileged" if ctx.spec.storage.model_cache == "hostPath" else "restricted"
    labels = {
        "kubernetes.io/metadata.name": ctx.namespace,
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ctx.namespace, "labels": labels}}


def service_account(ctx: RenderContext) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": ctx.meta(ctx.name, "identity"),
        "automountServiceAccountToken": False,
    }


def gpu_quota(ctx: RenderContext) -> Obj | None:
    """Caps the namespace's GPUs at what this service may use at its maximum scale (plus an engine build)."""
    r = ctx.plan.resources
    if r.gpu_count == 0:
        return None
    per_replica = r.gpu_count * ctx.plan.parallelism.nodes_per_replica
    total = per_replica * ctx.spec.scaling.max_replicas
    if ctx.spec.engine.name.value == "trtllm":
        total += r.gpu_count  # the engine-build Job
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": ctx.meta(f"{ctx.name}-gpus", "quota"),
        "spec": {"hard": {f"requests.{r.gpu_resource}": str(total)}},
    }
