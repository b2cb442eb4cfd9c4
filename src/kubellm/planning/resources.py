"""Pod resources and probe budgets derived from the model's size and the parallel layout."""

from __future__ import annotations

import math

from kubellm.engines import table_for
from kubellm.planning.result import PodResources, Probes

# Conservative throughput assumptions (documented in docs/planner.md):
DOWNLOAD_BYTES_PER_S = 150e6  # a hub download inside a cluster, sustained
LOAD_BYTES_PER_S = 2**30 / 10  # 10 s per GiB: safetensors from a network volume (NFS, EFS) into GPU memory
ENGINE_INIT_S = 60  # CUDA context, profiling run, CUDA-graph capture
STARTUP_FLOOR_S = 600
STARTUP_MARGIN = 1.5
SHARED_GPU_PODS = 2  # pods per GPU assumed when a shared (time-sliced / MPS) GPU's count is unknown


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


def load_s(weights_bytes_per_pod: float) -> int:
    """Seconds to load the weights into GPU memory and initialise the engine (profiling, CUDA graphs)."""
    return int(weights_bytes_per_pod / LOAD_BYTES_PER_S) + ENGINE_INIT_S


def download_s(weights_bytes_per_pod: float) -> int:
    """Seconds to download the weights from the hub inside a cluster."""
    return int(weights_bytes_per_pod / DOWNLOAD_BYTES_PER_S)


def startup_budget_s(weights_bytes_per_pod: float, *, downloads_at_start: bool) -> int:
    """The one startup budget: (download when the pod downloads itself + load + engine init) × 1.5,
    rounded up to a minute, at least 10 minutes. The planner writes it into the startupProbe, local
    mode waits that long, and lint expects at least the no-download figure from a manifest's probe.

    Ten minutes is the floor because a busy node, a cold volume or a CUDA-graph capture of a large
    batch routinely add minutes; a probe that kills a pod mid-load restarts the whole load.
    """
    download = download_s(weights_bytes_per_pod) if downloads_at_start else 0
    return max(STARTUP_FLOOR_S, _round_up((download + load_s(weights_bytes_per_pod)) * STARTUP_MARGIN, 60))


def probes(*, engine: str, weights_bytes_per_pod: float, downloads_at_start: bool) -> Probes:
    """The startup budget and the engine's probe paths (from its engine table)."""
    readiness = table_for(engine).readiness
    return Probes(
        startup_budget_s=startup_budget_s(weights_bytes_per_pod, downloads_at_start=downloads_at_start),
        download_s=download_s(weights_bytes_per_pod) if downloads_at_start else 0,
        load_s=load_s(weights_bytes_per_pod),
        readiness_path=readiness.ready_path,
        liveness_path=readiness.live_path,
    )


def shared_gpu_max_utilization(pods_per_gpu: int = SHARED_GPU_PODS) -> float:
    """The largest memory fraction each pod may claim on a GPU shared without memory isolation
    (time-slicing, MPS): every pod claims its fraction of the whole GPU, so together at most all of it."""
    return round(1 / max(1, pods_per_gpu), 2)


def shared_gpu_problem(
    sharing: str, memory_utilization: float, pods_per_gpu: int = SHARED_GPU_PODS
) -> str | None:
    """What goes wrong when pods share a GPU without isolation at this utilisation, else None.
    The planner warns with it, render refuses with it, lint's GPU017 applies the same limit."""
    limit = shared_gpu_max_utilization(pods_per_gpu)
    if sharing not in ("time-slicing", "mps") or memory_utilization <= limit:
        return None
    return (
        f"gpu.memory_utilization {memory_utilization:g} with sharing {sharing}: every pod on the shared GPU "
        f"claims that fraction of the whole GPU, so the second one fails at start ('Free memory on device … is "
        f"less than desired'); set it to at most 1 / (pods per GPU), {limit:g} for {pods_per_gpu}"
    )
