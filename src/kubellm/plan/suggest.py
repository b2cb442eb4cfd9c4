"""When a plan does not fit: the cheapest change that does.

Candidates are evaluated with the same planner (through ``probe``); the winner is the one on the
same GPU type (no new node pool), then the fewest GPU-dollars, then the least quality loss.
"""

from __future__ import annotations

from collections.abc import Callable

from kubellm.catalog import Catalog, GpuSpec, ModelArch
from kubellm.errors import PlanError
from kubellm.plan import memory as mem
from kubellm.plan.layout import AUTO_CONTEXTS, valid_tps
from kubellm.plan.result import Decision
from kubellm.spec import LLMService
from kubellm.spec.service import GpuSharing

UNKNOWN_USD_PER_GIB_HOUR = 0.155  # H100 list price per GiB, for GPUs without a known price

Probe = Callable[[LLMService, GpuSpec], "tuple[int, int] | None"]


def suggest(
    spec: LLMService,
    model: ModelArch,
    physical_gpu: GpuSpec,
    gpu_used: GpuSpec,
    catalog: Catalog,
    probe: Probe,
) -> Decision | None:
    """The cheapest change that fits: same GPU type first, then fewest GPU-dollars, then the least quality loss."""
    options: list[tuple[bool, float, int, str, str]] = []
    price = gpu_used.usd_per_hour or gpu_used.memory_gib * UNKNOWN_USD_PER_GIB_HOUR

    def attempt(
        label: str, why: str, quality_rank: int, gpu: GpuSpec | None = None, **changes: object
    ) -> None:
        data = spec.model_dump(mode="python")
        for path, value in changes.items():
            section, field = path.split("__")
            data[section][field] = value
        candidate = LLMService.model_validate(data)
        target_gpu = gpu or physical_gpu
        try:
            result = probe(candidate, target_gpu)
        except PlanError:
            return
        if result is None:
            return
        gpus, ctx = result
        unit = (target_gpu.usd_per_hour or target_gpu.memory_gib * UNKNOWN_USD_PER_GIB_HOUR) if gpu else price
        options.append(
            (
                gpu is not None,
                unit * gpus,
                quality_rank,
                label,
                f"{why}; fits with max_model_len {ctx} on {gpus} GPU(s)",
            )
        )

    exclusive = spec.gpu.sharing == GpuSharing.EXCLUSIVE
    current_tp = spec.gpu.count or 1
    if exclusive:
        for tp in valid_tps(model, spec.gpu.gpus_per_node):
            if tp > current_tp:
                attempt(f"tensor_parallel={tp}", f"shard the weights over {tp} GPUs", 0, gpu__count=tp)
                break
    if gpu_used.supports_fp8 or gpu_used.supports_bf16:
        if spec.model.quantization == "none" and not model.quantization:
            attempt("quantization=fp8", "fp8 weights halve the weight memory", 1, model__quantization="fp8")
            if exclusive:
                for tp in valid_tps(model, spec.gpu.gpus_per_node):
                    if tp > current_tp:
                        attempt(f"tensor_parallel={tp} with quantization=fp8", "shard and halve the weights", 1,
                                gpu__count=tp, model__quantization="fp8")  # fmt: skip
                        break
        if spec.serving.kv_cache_dtype == "auto":
            attempt(
                "kv_cache_dtype=fp8",
                "an fp8 KV cache holds twice the tokens",
                1,
                serving__kv_cache_dtype="fp8",
            )
    seqs = (
        spec.serving.max_num_seqs or mem.engine_defaults(gpu_used.memory_gib, physical_gpu.name).max_num_seqs
    )
    if seqs > 256:
        attempt(
            "max_num_seqs=256",
            "a smaller sampler batch shrinks the activation peak",
            1,
            serving__max_num_seqs=256,
        )
    if spec.gpu.memory_utilization < 0.95:
        attempt("gpu_memory_utilization=0.95", "a larger budget (CUDA graphs must fit in the rest)", 1,
                gpu__memory_utilization=0.95)  # fmt: skip
    if spec.serving.max_model_len:
        for ctx in sorted((c for c in AUTO_CONTEXTS if c < spec.serving.max_model_len), reverse=True):
            before = len(options)
            attempt(
                f"max_model_len={ctx}",
                f"a shorter context ({ctx} tokens) needs fewer KV blocks",
                2,
                serving__max_model_len=ctx,
            )
            if len(options) > before:
                break
    for other in sorted(catalog.gpus, key=lambda g: g.memory_gib):
        if other.memory_gib > physical_gpu.memory_gib and spec.gpu.sharing == GpuSharing.EXCLUSIVE:
            before = len(options)
            attempt(f"gpu={other.name}", f"a GPU with {other.memory_gib:.0f} GiB", 0, gpu=other,
                    gpu__count=spec.gpu.count, gpu__type=other.name)  # fmt: skip
            if len(options) > before:
                break
    if not options:
        return None
    # Same GPU type first (no new node pool), then GPU-dollars, then least quality loss.
    options.sort(key=lambda o: (o[0], o[1], o[2]))
    _, _, _, label, why = options[0]
    alternatives = [o[3] for o in options[1:4]]
    if alternatives:
        why += f" (also possible: {', '.join(alternatives)})"
    return Decision(what=label, why=why)
