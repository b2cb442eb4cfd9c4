"""Plain-language pieces of the planner's decisions: how the KV cache is laid out and sized per token."""

from __future__ import annotations

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.engines import table_for
from kubellm.planning.kv_layout import KvLayout
from kubellm.planning.layout import MemoryFit, gib
from kubellm.planning.resources import shared_gpu_problem
from kubellm.spec import LLMService

GIB = 2**30
# Unified-memory GPUs (GB10): free memory at start caps near 102 of 121.69 GiB on a headless DGX OS
# (MiaAI-Lab/GLM-5.3-Flash-EXL3-2x-DGX-Sparks#47); vLLM's GB10 recipe needs 0.85 (vllm-project/recipes#632).
UMA_MAX_UTILIZATION = 0.84


def layout_text(lay: KvLayout) -> str:
    """The hybrid allocator's groups, for models with more than one kind of layer cache."""
    if lay.num_groups <= 1:
        return ""
    groups = ", ".join(f"{n} {kind}" for kind, n in lay.groups)
    return (
        f"; hybrid allocator: groups of {lay.group_size} layers ({groups}), {lay.block_size}-token blocks"
        + (f", window {lay.sliding_window}" if lay.sliding_window else "")
    )


def kv_heads_text(model: ModelArch, tp: int) -> str:
    """What one token costs in one layer on one TP rank."""
    if model.is_mla:
        return f"({model.kv_lora_rank} + {model.qk_rope_head_dim}) latent × 2 bytes "
    per_rank = max(1, model.num_kv_heads // tp)
    replicated = " (replicated: TP > KV heads)" if tp > model.num_kv_heads else ""
    return f"2 × {per_rank} KV heads{replicated} × {model.head_dim} head_dim × bytes "


def graphs_text(graphs_bytes: float, in_budget: bool, enforce_eager: bool) -> str:
    """Where the CUDA graphs' memory is in the KV arithmetic."""
    if enforce_eager:
        return " (enforce_eager: no CUDA graphs captured, none estimated)"
    if in_budget:
        return f" − CUDA-graph estimate {graphs_bytes / GIB:.2f} GiB (taken from the budget since vLLM 0.20)"
    return (
        f" (CUDA graphs, ~{graphs_bytes / GIB:.2f} GiB, are captured after the KV cache, outside the budget)"
    )


def eager_warning(engine: str, enforce_eager: bool) -> str | None:
    """serving.enforce_eager on an engine whose table has no flag for it: the plan assumes no graphs, the engine
    captures them."""
    if not enforce_eager or any(f.setting == "enforce_eager" for f in table_for(engine).flags):
        return None
    return (
        f"serving.enforce_eager has no {engine} flag: the memory above assumes no CUDA graphs, the engine may still "
        "capture them — unset it"
    )


def memory_warnings(spec: LLMService, gpu: GpuSpec, gpu_name: str, m: MemoryFit) -> list[str]:
    """What the memory fit says will go wrong at start: graphs outside the budget, a unified-memory GPU asked for
    more than the host leaves, a shared GPU's fraction, eager on an engine without the switch."""
    warnings = []
    utilization = spec.gpu.memory_utilization
    headroom = (1 - utilization) * gpu.memory_gib * GIB - m.graphs
    if headroom < 0 and not m.graphs_in_budget:
        warnings.append(
            f"gpu_memory_utilization {utilization} leaves {gib(headroom + m.graphs)} outside the "
            f"budget but CUDA graphs need ~{gib(m.graphs)}: expect CUDA OOM after 'KV cache allocated'; lower it"
        )
    if gpu.unified_memory and utilization > UMA_MAX_UTILIZATION:
        warnings.append(
            f"{gpu_name} shares its {gpu.memory_gib:.2f} GiB with the OS; vLLM checks "
            f"utilization × total against the host's available memory at start, which stays near "
            f"{UMA_MAX_UTILIZATION:.2f} × total on a headless system: set memory_utilization ≤ {UMA_MAX_UTILIZATION}"
        )
    for problem in (
        shared_gpu_problem(spec.gpu.sharing.value, utilization),
        eager_warning(spec.engine.name.value, spec.serving.enforce_eager),
    ):
        if problem:
            warnings.append(problem)
    return warnings
