"""Namespace (with Pod Security labels), the ServiceAccount without a token, and the GPU ResourceQuota."""

from __future__ import annotations

from typing import Any

from kubellm.catalog.providers import Identity, provider
from kubellm.errors import UsageError
from kubellm.render.context import RenderContext

Obj = dict[str, Any]


def namespace(ctx: RenderContext) -> Obj | None:
    if not ctx.options.namespace_object or ctx.spec.metadata.namespace_only:
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


def _identity(ctx: RenderContext) -> Identity | None:
    """The provider's workload-identity binding, when security.cloud_identity asks for one."""
    wanted = ctx.spec.security.cloud_identity
    if wanted is None:
        return None
    p = provider(ctx.spec.placement.provider)
    if p.identity is None:
        raise UsageError(
            f"security.cloud_identity on placement.provider {p.name}: kubellm knows no workload-identity annotation there",
            "set placement.provider (gke: a Google service account e-mail, eks: an IAM role ARN, aks: a managed "
            "identity's client id), or annotate the ServiceAccount yourself",
        )
    return p.identity


def service_account(ctx: RenderContext) -> Obj:
    """The service's identity: no token mounted; bound to a cloud identity when security.cloud_identity is set
    (GKE Workload Identity, EKS IRSA, AKS workload identity)."""
    meta = ctx.meta(ctx.name, "identity")
    identity = _identity(ctx)
    if identity is not None:
        meta["annotations"] = {identity.annotation: str(ctx.spec.security.cloud_identity)}
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
        "automountServiceAccountToken": False,
    }


def identity_pod_labels(ctx: RenderContext) -> dict[str, str]:
    """Labels a provider's identity webhook needs on the pods (AKS: azure.workload.identity/use)."""
    identity = _identity(ctx)
    return dict(identity.pod_labels) if identity is not None else {}


def gpu_quota(ctx: RenderContext) -> Obj | None:
    """The service's GPU quota, in a namespace that is its own (named after it); none in a shared namespace,
    where one service's quota would block another's pods — render the namespace's services together."""
    if not ctx.options.service_quota or ctx.namespace != ctx.name:
        return None
    hard = gpu_quota_hard(ctx)
    return quota_object(ctx, hard) if hard else None


def quota_object(ctx: RenderContext, hard: dict[str, int]) -> Obj:
    """A ResourceQuota named after the namespace: requests.<resource> for each GPU resource."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": ctx.meta(f"{ctx.namespace}-gpus", "quota"),
        "spec": {"hard": {f"requests.{k}": str(v) for k, v in sorted(hard.items())}},
    }


def gpu_quota_hard(ctx: RenderContext) -> dict[str, int]:
    """The GPUs this service may use at its maximum scale (plus an engine build), by resource; {} on CPU."""
    r = ctx.plan.resources
    if r.gpu_count == 0 or ctx.spec.metadata.namespace_only:  # a namespace-scoped user cannot set quotas
        return {}
    per_replica = r.gpu_count * ctx.plan.parallelism.nodes_per_replica
    total = per_replica * ctx.spec.scaling.max_replicas
    if ctx.spec.engine.name.value == "trtllm":
        total += r.gpu_count  # the engine-build Job
    return {r.gpu_resource: total}
