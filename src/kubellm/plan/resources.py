"""Pod resources and probe budgets derived from the model's size and the parallel layout."""

from __future__ import annotations

import math

from kubellm.plan.result import PodResources, Probes

# Conservative throughput assumptions (documented in docs/planner.md):
DOWNLOAD_BYTES_PER_S = 150e6  # a hub download inside a cluster, sustained
LOAD_BYTES_PER_S = 2**30 / 10  # 10 s per GiB: safetensors from a network volume (NFS, EFS) into GPU memory
ENGINE_INIT_S = 60  # CUDA context, profiling run, CUDA-graph capture
STARTUP_FLOOR_S = 600
READINESS_PATHS = {
    "vllm": "/health",
    "sglang": "/health",
    "tgi": "/health",
    "trtllm": "/v2/health/ready",
    "llamacpp": "/health",
}


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def pod_resources(
    *,
    weights_bytes_per_pod: float,
    weights_bytes_total: float,
    gpus_per_pod: int,
    tp: int,
    gpu_resource: str,
    cached: bool,
    cache_size_gib: int | None,
) -> PodResources:
    """CPU, host memory (weights pass through host memory on load), /dev/shm for NCCL, disk."""
    weights_gib = weights_bytes_per_pod / 2**30
    memory_gib = _round_up(weights_gib * 1.2 + 8, 4)
    # NCCL keeps its intra-node transport buffers in /dev/shm: the container default of 64 MiB
    # fails ('Error while creating shared memory segment') as soon as TP > 1.
    shm_gib = 1.0 if tp == 1 else float(min(32, max(4, 2 * tp)))
    ephemeral = 10 if cached else _round_up(weights_gib * 1.2 + 10, 10)
    cache = cache_size_gib or max(10, _round_up(weights_bytes_total / 2**30 * 1.5, 10))
    return PodResources(
        cpu=min(64, 4 + 2 * gpus_per_pod),
        memory_gib=memory_gib,
        shm_gib=shm_gib,
        ephemeral_storage_gib=ephemeral,
        gpu_resource=gpu_resource,
        gpu_count=gpus_per_pod,
        model_cache_gib=cache,
    )


def probes(*, engine: str, weights_bytes_per_pod: float, downloads_at_start: bool) -> Probes:
    """Startup budget = (download when the pod downloads itself + load + engine init) × 1.5, ≥ 10 min.

    Ten minutes is the floor because a busy node, a cold volume or a CUDA-graph capture of a large
    batch routinely add minutes; a probe that kills a pod mid-load restarts the whole load.
    """
    download_s = int(weights_bytes_per_pod / DOWNLOAD_BYTES_PER_S) if downloads_at_start else 0
    load_s = int(weights_bytes_per_pod / LOAD_BYTES_PER_S) + ENGINE_INIT_S
    budget = max(STARTUP_FLOOR_S, _round_up((download_s + load_s) * 1.5, 60))
    path = READINESS_PATHS[engine]
    return Probes(
        startup_budget_s=budget,
        download_s=download_s,
        load_s=load_s,
        readiness_path=path,
        liveness_path=path,
    )
