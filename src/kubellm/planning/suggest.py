"""When a plan does not fit: the change that does, same GPU type first.

Candidates are re-planned with the same planner (through ``probe``); only those that fit are offered.
On the same GPU type the order is: more GPUs, an fp8 KV cache, quantized weights, fewer sequences, a
larger memory budget, a shorter context. Another GPU type is suggested only when nothing on this one fits.
"""

from __future__ import annotations

from collections.abc import Callable

from kubellm.catalog import Catalog, GpuSpec, ModelArch
from kubellm.errors import PlanError
from kubellm.planning import memory as mem
from kubellm.planning.layout import AUTO_CONTEXTS, valid_tps
from kubellm.planning.result import Decision
from kubellm.spec import LLMService
from kubellm.spec.service import GpuSharing

UNKNOWN_USD_PER_GIB_HOUR = 0.155  # H100 list price per GiB, for GPUs without a known price

Probe = Callable[[LLMService, GpuSpec], "tuple[int, int] | None"]


# Same-GPU changes, in the order the planner prefers them (more GPUs keeps the model and the context as
# asked; an fp8 KV cache costs little quality; quantized weights cost more; a shorter context changes the
# service). Changes to another GPU type come after all of them: they need a new node pool.
MORE_GPUS, FP8_KV, QUANTIZE, FEWER_SEQS, MORE_BUDGET, SHORTER_CONTEXT = range(6)


def suggest(
    spec: LLMService,
    model: ModelArch,
    physical_gpu: GpuSpec,
    gpu_used: GpuSpec,
    catalog: Catalog,
    probe: Probe,
    batch_rule: str = "memory-not-a100",
) -> Decision | None:
    """The first change that fits, same GPU type first; each candidate is re-planned to confirm it fits."""
    options: list[tuple[bool, int, float, str, str]] = []
    price = gpu_used.usd_per_hour or gpu_used.memory_gib * UNKNOWN_USD_PER_GIB_HOUR

    def attempt(label: str, why: str, rank: int, gpu: GpuSpec | None = None, **changes: object) -> bool:
        data = spec.model_dump(mode="python")
        for path, value in changes.items():
            section, field = path.split("__")
            data[section][field] = value
        candidate = LLMService.model_validate(data)
        target_gpu = gpu or physical_gpu
        try:
            result = probe(candidate, target_gpu)
        except PlanError:
            return False
        if result is None:
            return False
        gpus, ctx = result
        unit = (target_gpu.usd_per_hour or target_gpu.memory_gib * UNKNOWN_USD_PER_GIB_HOUR) if gpu else price
        options.append(
            (
                gpu is not None,
                rank,
                unit * gpus,
                label,
                f"{why}; re-planned: fits with max_model_len {ctx} on {gpus} GPU(s)",
            )
        )
        return True

    exclusive = spec.gpu.sharing == GpuSharing.EXCLUSIVE
    current_tp = spec.gpu.count or 1
    tps = [tp for tp in valid_tps(model, spec.gpu.gpus_per_node) if tp > current_tp] if exclusive else []
    for tp in tps:  # the fewest GPUs of this type that fit
        if attempt(f"tensor_parallel={tp}", f"shard the weights and KV cache over {tp} {physical_gpu.name}", MORE_GPUS,
                   gpu__count=tp):  # fmt: skip
            break
    fp8_capable = gpu_used.supports_fp8 or gpu_used.supports_bf16
    if fp8_capable and spec.serving.kv_cache_dtype == "auto":
        attempt(
            "kv_cache_dtype=fp8",
            "an fp8 KV cache holds twice the tokens",
            FP8_KV,
            serving__kv_cache_dtype="fp8",
        )
    if (
        fp8_capable
        and spec.model.quantization == "none"
        and not model.quantization
        and not attempt(
            "quantization=fp8", "fp8 weights halve the weight memory", QUANTIZE, model__quantization="fp8"
        )
    ):
        for tp in tps:
            if attempt(f"tensor_parallel={tp} with quantization=fp8", "shard and halve the weights", QUANTIZE,
                       gpu__count=tp, model__quantization="fp8"):  # fmt: skip
                break
    seqs = (
        spec.serving.max_num_seqs
        or mem.engine_defaults(
            gpu_used.memory_gib, physical_gpu.name, batch_rule, physical_gpu.unified_memory
        ).max_num_seqs
    )
    if seqs > 256:
        attempt("max_num_seqs=256", "a smaller sampler batch shrinks the activation peak", FEWER_SEQS,
                serving__max_num_seqs=256)  # fmt: skip
    if spec.gpu.memory_utilization < 0.95:
        attempt("gpu_memory_utilization=0.95", "a larger budget (CUDA graphs must fit in the rest)", MORE_BUDGET,
                gpu__memory_utilization=0.95)  # fmt: skip
    if spec.serving.max_model_len:
        for ctx in sorted((c for c in AUTO_CONTEXTS if c < spec.serving.max_model_len), reverse=True):
            if attempt(f"max_model_len={ctx}", f"a shorter context ({ctx} tokens) needs fewer KV blocks",
                       SHORTER_CONTEXT, serving__max_model_len=ctx):  # fmt: skip
                break
    if not options and exclusive:
        bigger = (g for g in catalog.gpus if g.memory_gib > physical_gpu.memory_gib and not g.unified_memory)
        for other in sorted(bigger, key=lambda g: g.memory_gib):
            if attempt(f"gpu={other.name}", f"a GPU with {other.memory_gib:.0f} GiB", MORE_GPUS, gpu=other,
                       gpu__count=spec.gpu.count, gpu__type=other.name):  # fmt: skip
                break
    if not options:
        return None
    options.sort(key=lambda o: (o[0], o[1], o[2]))
    _, _, _, label, why = options[0]
    alternatives = [o[3] for o in options[1:4]]
    if alternatives:
        why += f" (also possible: {', '.join(alternatives)})"
    return Decision(what=label, why=why)
