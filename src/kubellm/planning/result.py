"""Plan: what the planner decided for one LLMService, with the reason for each decision.

The JSON form (``Plan.to_json_dict``) is a contract other tools read; its keys are listed in the
README and checked by tests.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.planning.performance import PerformanceModel
from kubellm.spec import LLMService


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Decision(_Out):
    what: str = Field(description="The decision, e.g. 'tensor_parallel=2'.")
    why: str = Field(description="The reason, with the figures behind it.")


class MemoryBreakdown(_Out):
    """Per-GPU memory as the engine accounts it (GiB)."""

    total_gib: float = Field(description="Total memory of one GPU (or MIG slice) as torch reports it.")
    budget_gib: float = Field(description="gpu_memory_utilization × total: what the engine may use.")
    weights_gib: float = Field(description="Weights held by one GPU (tensor-parallel shard).")
    activation_gib: float = Field(
        description="Peak activation memory of the profiling step (incl. the sampler)."
    )
    non_torch_gib: float = Field(description="CUDA context, NCCL and allocator memory outside torch.")
    cuda_graph_gib: float = Field(
        description="CUDA-graph memory, captured after the KV cache (outside the budget)."
    )
    kv_cache_gib: float = Field(
        description="Memory left for the KV cache: budget − weights − activation − non-torch."
    )
    headroom_gib: float = Field(description="total − budget − CUDA graphs: what is left free on the GPU.")


class KvCache(_Out):
    bytes_per_token: int = Field(description="KV bytes per token on one GPU, every layer counted.")
    bytes_per_token_model: int = Field(description="KV bytes per token of the whole model at TP 1.")
    block_size: int = Field(description="Tokens per KV block.")
    blocks: int = Field(description="KV blocks on one GPU.")
    tokens: int = Field(description="KV-cache capacity in tokens (what vLLM logs as 'GPU KV cache size').")
    max_concurrency: float = Field(description="Requests of max_model_len tokens that fit at once.")
    max_model_len: int = Field(description="The planned context length.")


class Parallelism(_Out):
    tensor_parallel: int = Field(description="Tensor-parallel size.")
    pipeline_parallel: int = Field(description="Pipeline-parallel size (nodes for multi-node plans).")
    gpus_per_replica: int = Field(description="GPUs one replica uses.")
    nodes_per_replica: int = Field(description="Nodes one replica spans.")


class EngineSettings(_Out):
    engine: str = Field(description="Serving engine.")
    max_model_len: int = Field(description="Context length.")
    gpu_memory_utilization: float = Field(description="Fraction of GPU memory the engine may use.")
    max_num_seqs: int = Field(description="Cap on running sequences.")
    max_num_batched_tokens: int = Field(description="Tokens per scheduler step.")
    dtype: str = Field(description="Compute dtype.")
    quantization: str | None = Field(description="Weight quantization, if any.")
    kv_cache_dtype: str = Field(description="KV-cache dtype.")
    block_size: int = Field(description="KV block size in tokens.")
    enforce_eager: bool = Field(default=False, description="No CUDA graphs (vLLM --enforce-eager).")


class PodResources(_Out):
    cpu: int = Field(description="CPU cores requested per engine pod.")
    memory_gib: int = Field(description="Host memory per pod: enough to load and shard the weights.")
    shm_gib: float = Field(description="/dev/shm (memory-backed emptyDir) size; NCCL needs it when TP > 1.")
    ephemeral_storage_gib: int = Field(
        description="Ephemeral storage per pod (caches, logs; weights when no PVC)."
    )
    gpu_resource: str = Field(
        description="Extended resource name, 'nvidia.com/gpu' or 'nvidia.com/mig-<profile>'."
    )
    gpu_count: int = Field(description="GPUs (or MIG slices) per pod.")
    model_cache_gib: int = Field(description="Size of the model cache volume.")


class Probes(_Out):
    startup_budget_s: int = Field(
        description="Seconds the startup probe allows for download, load and warm-up."
    )
    download_s: int = Field(description="Estimated download time of the weights (0 with a warm cache).")
    load_s: int = Field(
        description="Estimated load time of the weights into GPU memory, incl. graph capture."
    )
    readiness_path: str = Field(description="HTTP path that answers once the model is loaded.")
    liveness_path: str = Field(description="HTTP path the liveness probe checks.")


class Performance(_Out):
    decode_ms_per_step: float = Field(description="One decode step at batch 1 with 1,024 tokens of context.")
    decode_ms_by_batch: dict[int, float] = Field(
        description="Decode step time (ms) by batch size, context 1,024."
    )
    prefill_tokens_per_s: float = Field(description="Prefill throughput of one replica.")
    concurrency: int = Field(description="The concurrency the throughput figures are for.")
    itl_ms: float = Field(description="Inter-token latency at that concurrency.")
    output_tokens_per_s: float = Field(
        description="Output tokens per second of one replica at that concurrency."
    )
    ttft_ms: float = Field(description="Time to first token for a 1,024-token prompt on an idle replica.")


class Cost(_Out):
    usd_per_hour: float | None = Field(
        description="Price of one replica's GPUs per hour (None when unknown)."
    )
    usd_per_million_output_tokens: float | None = Field(
        description="Cost of a million output tokens at the planned load."
    )
    price_basis: str = Field(description="Where the price comes from.")


class InstancePlan(_Out):
    """The instance shape a replica's pods are sized and priced for (placement.provider other than generic)."""

    provider: str = Field(description="Provider whose shape this is (gke, eks, aks).")
    name: str = Field(description="Instance type / machine type / VM size, e.g. 'g6.2xlarge'.")
    gpus: int = Field(description="GPUs the instance has.")
    vcpu: int = Field(description="vCPUs the instance has.")
    memory_gib: float = Field(description="Memory the instance has, GiB.")
    allocatable_cpu: float = Field(
        description="CPU pods may request on the node after the provider's kube/system reservation."
    )
    allocatable_memory_gib: float = Field(
        description="Memory pods may request on the node after the reservation and the eviction threshold."
    )
    pod_share_cpu: float = Field(
        description="CPU one engine pod may request: allocatable less the provider's DaemonSets, ÷ pods per node."
    )
    pod_share_memory_gib: float = Field(description="Memory one engine pod may request, likewise.")
    pods_per_node: int = Field(description="Engine pods one node holds (its GPUs ÷ GPUs per pod).")
    fits: bool = Field(description="Whether the pod's CPU and memory requests fit its share of the node.")
    usd_per_hour: float | None = Field(description="On-demand price of the whole instance per hour.")
    usd_per_replica_hour: float | None = Field(
        description="The replica's share of the instance price (its GPUs' share, × nodes per replica)."
    )
    price_basis: str = Field(description="Where the price comes from.")
    source: str = Field(description="Where the instance's shape is documented.")
    price_source: str = Field(description="Where the price is published.")
    reservation_source: str = Field(description="Where the provider documents its node reservations.")
    note: str = Field(default="", description="What else to know about this shape (e.g. Spot only).")


class Plan(_Out):
    """Everything the planner decided; ``fits`` false comes with ``suggestion``."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    fits: bool = Field(description="Whether one replica starts and holds at least one max_model_len request.")
    model: str = Field(description="Catalog name of the model.")
    gpu: str = Field(description="Catalog name of the GPU (with the MIG profile when sliced).")
    memory: MemoryBreakdown
    kv_cache: KvCache
    parallelism: Parallelism
    settings: EngineSettings
    engine_args: list[str] = Field(description="Arguments for the engine's command line.")
    resources: PodResources
    probes: Probes
    performance: Performance
    cost: Cost
    decisions: list[Decision]
    warnings: list[str]
    suggestion: Decision | None = Field(
        default=None, description="The cheapest change that fits, when fits is false."
    )
    instance: InstancePlan | None = Field(
        default=None,
        description="The instance shape the pods are sized and priced for (None for placement.provider generic).",
    )
    vllm_version: str = Field(
        default="", description="The vLLM release whose memory accounting the plan follows (vLLM plans)."
    )
    spec: LLMService = Field(
        description="The spec this plan was made for (with defaults filled in).", exclude=True
    )
    model_arch: InstanceOf[ModelArch] = Field(
        description="The model architecture the plan was made for (catalog row or parsed config.json).",
        exclude=True,
    )
    gpu_spec: InstanceOf[GpuSpec] = Field(
        description="The GPU type planned against (the whole GPU for a MIG slice; the CPU node on gpu.type cpu).",
        exclude=True,
    )
    performance_model: InstanceOf[PerformanceModel] = Field(
        description="The step-time model behind the performance figures (the slice, TP, PP and compute dtype "
        "the plan chose); the simulator and sizing read it instead of rebuilding one.",
        exclude=True,
    )

    @property
    def on_gpu(self) -> bool:
        """Whether a replica asks for GPUs (False on CPU nodes)."""
        return self.resources.gpu_count > 0

    def to_json_dict(self) -> dict[str, Any]:
        """The plan as plain JSON data (the spec left out)."""
        return self.model_dump(mode="json")
