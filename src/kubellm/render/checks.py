"""Combinations render refuses, each with the spec field to change and how.

The planner already rejects a TP that does not divide the heads and an engine the catalog says
cannot serve the model; these are the checks that need rendering knowledge.
"""

from __future__ import annotations

from kubellm.errors import UsageError
from kubellm.planning.access import check_model_access
from kubellm.planning.resources import shared_gpu_max_utilization, shared_gpu_problem
from kubellm.planning.result import Plan
from kubellm.render.binding import check_cache_binds
from kubellm.render.engines import ADAPTERS, EngineAdapter
from kubellm.render.storage import cache_mode
from kubellm.spec import GpuSharing

SHARED_MAX_UTILIZATION = shared_gpu_max_utilization()


def check(plan: Plan, adapter: EngineAdapter, can_serve: bool) -> None:
    """Raise a UsageError naming the field and the fix for the first invalid combination."""
    spec = plan.spec
    engine = spec.engine.name.value
    if not can_serve:
        others = sorted(name for name, a in ADAPTERS.items() if name != engine)
        raise UsageError(
            f"engine.name {engine}: {engine} cannot serve {plan.model}",
            f"use a compatible engine ({', '.join(others)} per the catalog; vllm serves most models)",
        )
    if not plan.fits:
        hint = (
            f"{plan.suggestion.what} ({plan.suggestion.why})"
            if plan.suggestion
            else "use a larger GPU or more GPUs"
        )
        if spec.gpu.sharing == GpuSharing.MIG:
            raise UsageError(
                f"gpu.mig_profile {spec.gpu.mig_profile}: the slice ({plan.memory.total_gib:g} GiB) is too small for "
                f"{plan.model} (weights {plan.memory.weights_gib:g} GiB, KV cache {plan.memory.kv_cache_gib:g} GiB)",
                f"pick a larger MIG profile or a whole GPU: {hint}",
            )
        raise UsageError(
            f"{plan.model} does not fit on {plan.gpu} as specified (gpu.count, serving.max_model_len)",
            f"change the spec: {hint}",
        )
    per_pod = plan.resources.gpu_count
    if per_pod > spec.gpu.gpus_per_node:
        raise UsageError(
            f"gpu.count: {per_pod} GPUs per pod, but a {spec.gpu.type} node has {spec.gpu.gpus_per_node} "
            "(gpu.gpus_per_node); the pod would stay Pending ('Insufficient nvidia.com/gpu')",
            f"set gpu.nodes: {-(-per_pod // spec.gpu.gpus_per_node)} to span nodes with a LeaderWorkerSet, "
            "or fewer GPUs per replica",
        )
    if plan.parallelism.nodes_per_replica > 1 and engine not in ("vllm", "sglang"):
        raise UsageError(
            f"gpu.nodes {plan.parallelism.nodes_per_replica}: {engine} cannot span nodes",
            "use engine.name vllm (or sglang) for multi-node replicas, or fit the model on one node",
        )
    shared = shared_gpu_problem(spec.gpu.sharing.value, spec.gpu.memory_utilization)
    if shared:
        what, _, fix = shared.rpartition("; ")
        raise UsageError(what, fix)
    if engine == "trtllm" and cache_mode(spec) != "shared":
        raise UsageError(
            "engine.name trtllm needs a shared cache (storage.model_cache: pvc, access_mode ReadWriteMany) with an "
            "hf:// source: the engine-build Job writes the compiled engines where every replica reads them",
            "set storage.access_mode: ReadWriteMany and storage.storage_class to a class that offers it "
            "(Filestore on GKE, EFS on EKS, Azure Files on AKS)",
        )
    g = spec.gateway
    if g.enabled and g.host and g.kind == "kubellm":  # an inference pool's route: TLS is its Gateway's
        if g.ingress == "httproute" and not g.gateway_ref:
            raise UsageError(
                "gateway.ingress httproute needs gateway.gateway_ref (the parent Gateway)",
                "set gateway.gateway_ref: '<namespace>/<gateway name>' (its HTTPS listener holds the certificate)",
            )
        if g.ingress == "ingress" and not (g.tls_secret or g.cert_manager_issuer):
            raise UsageError(
                f"gateway.host {g.host}: no TLS certificate source",
                "set gateway.tls_secret (an existing kubernetes.io/tls Secret) or gateway.cert_manager_issuer",
            )
    # Last: whether the model can be downloaded and its cache bound (the combinations above come first).
    check_model_access(spec)
    check_cache_binds(spec)
