"""Pure fit arithmetic: weights, the memory of one layout, valid TP sizes, MIG slices, auto context."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.errors import PlanError
from kubellm.planning import memory as mem
from kubellm.planning.kv_layout import KvLayout, kv_blocks, kv_layout, max_concurrency
from kubellm.planning.vllm_versions import VllmAccounting
from kubellm.spec import LLMService
from kubellm.spec.service import GpuSharing

GIB = mem.GIB
MIN_AUTO_CONTEXT = 2048  # an automatically chosen context below this is not a useful service
AUTO_CONTEXTS = tuple(2**k for k in range(11, 21))  # 2K … 1M
ROUTINE_CONCURRENCY = 4  # requests of the chosen context the auto choice keeps room for (at least)


@dataclass(frozen=True, slots=True)
class Layout:
    """The settings one memory evaluation is made for."""

    tp: int
    pp: int
    dtype: str
    quantization: str | None
    kv_dtype: str
    max_model_len: int | None


@dataclass(frozen=True, slots=True)
class MemoryFit:
    weights: float
    activation: float
    non_torch: float
    graphs: float
    graphs_in_budget: bool
    kv: float
    layout: KvLayout
    blocks: int

    @property
    def bytes_per_token(self) -> float:
        return self.layout.bytes_per_token


def weights_total(model: ModelArch, spec: LLMService, dtype: str, quant: str | None) -> float:
    if spec.model.weights_gib:
        return spec.model.weights_gib * GIB
    return float(model.weights_bytes_for(dtype, quant))


def kv_dtype_bytes(kv_dtype: str, dtype: str) -> float:
    if kv_dtype.startswith("fp8"):
        return 1.0
    return 4.0 if dtype == "float32" else 2.0


def memory_fit(
    model: ModelArch,
    gpu: GpuSpec,
    spec: LLMService,
    layout: Layout,
    seqs: int,
    mnbt: int,
    acct: VllmAccounting,
) -> MemoryFit:
    """One GPU's memory as the release ``acct`` accounts it, and the KV blocks left."""
    weights = weights_total(model, spec, layout.dtype, layout.quantization) / (layout.tp * layout.pp)
    max_len = layout.max_model_len or model.max_position_embeddings
    act_bytes = 4.0 if layout.dtype == "float32" else 2.0
    activation = mem.activation_peak_bytes(model, layout.tp, seqs, mnbt, max_len, acct, act_bytes)
    eager = spec.serving.enforce_eager
    non_torch = mem.non_torch_bytes(layout.tp, layout.pp, gpu, acct, graphs_captured=not eager)
    graphs = mem.cuda_graph_bytes(model, seqs, mnbt, enforce_eager=eager)
    budget = spec.gpu.memory_utilization * gpu.memory_gib * GIB
    kv = budget - weights - activation - non_torch - (graphs if acct.graphs_in_budget else 0.0)
    cache = kv_layout(model, layout.tp, layout.pp, kv_dtype_bytes(layout.kv_dtype, layout.dtype), acct)
    return MemoryFit(
        weights, activation, non_torch, graphs, acct.graphs_in_budget, kv, cache, kv_blocks(kv, cache)
    )


def gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB"


def valid_tps(model: ModelArch, limit: int) -> list[int]:
    """TP sizes vLLM accepts: they divide the attention heads, and the KV heads split or replicate evenly."""
    out = []
    for tp in range(1, limit + 1):
        if model.num_attention_heads % tp:
            continue
        if not model.is_mla and model.num_kv_heads % tp and tp % model.num_kv_heads:
            continue
        out.append(tp)
    return out


def sliced_gpu(gpu: GpuSpec, spec: LLMService) -> GpuSpec:
    """A MIG slice as a GPU of its own: its memory, and compute/bandwidth in proportion."""
    if spec.gpu.sharing != GpuSharing.MIG or not spec.gpu.mig_profile:
        return gpu
    profile = gpu.mig_profile(spec.gpu.mig_profile)
    if profile is None:
        names = ", ".join(p.name for p in gpu.mig_profiles) or "none (this GPU has no MIG)"
        raise PlanError(
            f"gpu.mig_profile {spec.gpu.mig_profile!r} does not exist on {gpu.name}",
            f"pick one of: {names}",
        )
    share = profile.compute_slices / 7
    mem_share = profile.memory_gib / gpu.memory_gib
    return dataclasses.replace(
        gpu,
        name=f"{gpu.name} MIG {profile.name}",
        memory_gib=profile.memory_gib,
        bandwidth_tbs=gpu.bandwidth_tbs * mem_share,
        bf16_tflops=gpu.bf16_tflops * share if gpu.bf16_tflops else None,
        fp16_tflops=gpu.fp16_tflops * share,
        fp8_tflops=gpu.fp8_tflops * share if gpu.fp8_tflops else None,
        nvlink_gbs=None,
        usd_per_hour=gpu.usd_per_hour * share if gpu.usd_per_hour else None,
    )


def auto_context(model: ModelArch, fit: MemoryFit, mnbt: int, target: int) -> int:
    """The longest power-of-two context ≤ native that keeps room for a few requests."""
    native = model.max_position_embeddings
    want = min(target, ROUTINE_CONCURRENCY)
    best = 0
    for ctx in (*AUTO_CONTEXTS, native):
        if ctx > native:
            continue
        if max_concurrency(fit.layout, fit.blocks, ctx, mnbt) >= want:
            best = max(best, ctx)
    return best
