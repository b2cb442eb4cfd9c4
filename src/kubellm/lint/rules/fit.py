"""FIT rules: does the model named in the arguments fit the GPU the pod lands on, as configured?

The GPU comes from MIG resource names, GPU feature-discovery / cloud accelerator node labels, a KubeAI
resource profile, or `--gpu`. The planner (`kubellm.planning.plan`) is asked with an LLMService built from
what the manifest says: model, GPU, TP × PP, max-model-len, quantization and memory utilisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, get_args

from kubellm.catalog import ModelArch
from kubellm.engines import table_for
from kubellm.errors import KubellmError
from kubellm.lint.context import LintContext
from kubellm.lint.engines import EngineConfig
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.gpu import GpuChoice, find_model, prequantized_bytes_per_param
from kubellm.lint.registry import rule
from kubellm.lint.workload import ContainerView, PodView

if TYPE_CHECKING:  # the planner (and pydantic) load only when a FIT rule has a model and a GPU to check
    from kubellm.planning import Plan


def _spec_values(section: str, field: str) -> frozenset[str]:
    """Values the spec accepts for a Literal field (an engine spelling outside them reads as the default)."""
    from kubellm.spec import service

    model = service.ModelSection if section == "model" else service.ServingSection
    return frozenset(get_args(model.model_fields[field].annotation))


_QUANT_FROM_NAME = {
    "fp8": "fp8",
    "awq": "awq",
    "gptq": "gptq",
    "int4": "int4",
    "w4a16": "int4",
    "int8": "int8",
    "w8a8": "int8",
}


def _quantization(engine: EngineConfig, arch: ModelArch) -> str:
    if arch.quantization:
        return "none"  # the checkpoint carries its own quantization
    if engine.quantization:
        return _spec_value(
            engine, "quantization", engine.quantization, _spec_values("model", "quantization"), "none"
        )
    model = (engine.model or "").lower()
    if prequantized_bytes_per_param(model) is not None:
        for marker, quant in _QUANT_FROM_NAME.items():
            if marker in model:
                return quant
    return "none"


def _spec_value(engine: EngineConfig, setting: str, raw: str, allowed: frozenset[str], default: str) -> str:
    """The engine's spelling read back through its table (``awq_marlin`` → ``awq``, ``half`` → ``float16``)."""
    value = table_for(engine.engine if engine.engine == "sglang" else "vllm").flag(setting).spec_value(raw)
    value = value.lower()
    return value if value in allowed else default


def _spec(
    engine: EngineConfig, arch: ModelArch, choice: GpuChoice, max_model_len: int | None = None
) -> dict[str, Any]:
    gpu = choice.smallest
    tp = engine.tensor_parallel or 1
    pp = engine.pipeline_parallel or 1
    gpu_section: dict[str, Any] = {
        "type": gpu.name,
        "count": tp * pp,
        "nodes": pp,
        "gpus_per_node": max(8, tp),
    }
    if choice.mig_profile:
        gpu_section.update(sharing="mig", mig_profile=choice.mig_profile, count=1, nodes=1)
    util = engine.gpu_memory_utilization
    if util is not None and 0 < util <= 0.98:
        gpu_section["memory_utilization"] = util
    serving: dict[str, Any] = {}
    context = max_model_len or engine.max_model_len
    if context and context >= 16:
        serving["max_model_len"] = context
    if engine.max_num_seqs:
        serving["max_num_seqs"] = engine.max_num_seqs
    if engine.enforce_eager and engine.vllm_like:  # no CUDA graphs: their memory stays with the KV cache
        serving["enforce_eager"] = True
    serving["kv_cache_dtype"] = _spec_value(
        engine,
        "kv_cache_dtype",
        engine.kv_cache_dtype or "auto",
        _spec_values("serving", "kv_cache_dtype"),
        "auto",
    )
    return {
        "metadata": {"name": "lint"},
        "model": {
            "source": f"hf://{arch.hf_id}" if arch.hf_id.count("/") == 1 else "hf://lint/model",
            "name": arch.name,
            "dtype": _spec_value(
                engine, "dtype", engine.dtype or "auto", _spec_values("model", "dtype"), "auto"
            ),
            "quantization": _quantization(engine, arch),
        },
        "engine": {"name": "sglang" if engine.engine == "sglang" else "vllm"},
        "gpu": gpu_section,
        "serving": serving,
    }


def planned(
    pod: PodView,
    c: ContainerView,
    ctx: LintContext,
    choice: GpuChoice | None = None,
    max_model_len: int | None = None,
) -> tuple[Plan, ModelArch, GpuChoice] | None:
    """The plan for this engine on this pod's GPU (or ``choice``), optionally at another context length;
    None when the model, the GPU or the engine is unknown."""
    engine = c.engine
    if engine is None or not (engine.vllm_like or engine.engine == "sglang"):
        return None
    arch = find_model(ctx.catalog, engine.model)
    choice = choice or ctx.gpu_for(pod)
    if arch is None or choice is None:
        return None
    from pydantic import ValidationError

    from kubellm.planning import Plan, plan
    from kubellm.spec import LLMService

    spec_data = _spec(engine, arch, choice, max_model_len)
    key = (arch.name, repr(spec_data))
    if key not in ctx.plan_cache:
        try:
            spec = LLMService.model_validate(spec_data)
            ctx.plan_cache[key] = plan(spec, ctx.catalog, model=arch, gpu=choice.smallest)
        except (KubellmError, ValidationError, ValueError, ZeroDivisionError):
            ctx.plan_cache[key] = None
    result = ctx.plan_cache[key]
    return (result, arch, choice) if isinstance(result, Plan) else None


def _where(engine: EngineConfig, choice: GpuChoice) -> str:
    tp = engine.tensor_parallel or 1
    pp = engine.pipeline_parallel or 1
    layout = f"TP {tp}" + (f" × PP {pp}" if pp > 1 else "")
    gpu = (choice.mig_profile and f"{choice.smallest.name} MIG {choice.mig_profile}") or choice.smallest.name
    return f"{gpu} ({choice.source}), {layout}"


@rule(
    "FIT001",
    "model-does-not-fit",
    Severity.ERROR,
    "The model's weights do not fit the GPU memory the pod gets",
    why="vLLM loads the weights, profiles activations and gives the rest of `gpu_memory_utilization × GPU memory` "
    "to the KV cache; when nothing is left it stops (`No available memory for the cache blocks`, CUDA OOM).",
    fix="Use more GPUs (higher TP), a bigger GPU, or a quantized checkpoint; `kubellm plan` prints the cheapest "
    "change that fits.",
    bad="args: [serve, meta-llama/Llama-3.1-70B-Instruct]\nnodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}\n"
    "resources: {limits: {nvidia.com/gpu: 1}}",
    good="args: [serve, meta-llama/Llama-3.1-8B-Instruct, --max-model-len=8192]\n"
    "nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}",
    mistakes=("M10", "M15"),
    managed=True,
    needs="engine",
)
def model_does_not_fit(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        found = planned(pod, c, ctx)
        if found is None or c.engine is None:
            continue
        result, arch, choice = found
        if result.fits or (c.engine.max_model_len and result.memory.kv_cache_gib > 0):
            continue
        m = result.memory
        hint = f"; {result.suggestion.what}: {result.suggestion.why}" if result.suggestion else ""
        yield Hit(
            f"{arch.name} does not fit on {_where(c.engine, choice)}: weights {m.weights_gib:.1f} GiB per GPU, "
            f"budget {m.budget_gib:.1f} GiB, KV cache left {m.kv_cache_gib:.1f} GiB{hint}",
            c.path,
            c.name,
        )


@rule(
    "FIT002",
    "max-model-len-over-kv",
    Severity.ERROR,
    "--max-model-len is longer than the KV cache can hold",
    why="vLLM refuses to start when one request of max-model-len tokens does not fit the KV cache: `The model's "
    "max seq len (4096) is larger than the maximum number of tokens that can be stored in KV cache (3664)`.",
    fix="Lower `--max-model-len`, raise `--gpu-memory-utilization` or TP, or use `--kv-cache-dtype fp8`.",
    bad="args: [serve, meta-llama/Llama-3.1-8B-Instruct, --max-model-len=131072]\n"
    "nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}",
    good="args: [serve, meta-llama/Llama-3.1-8B-Instruct, --max-model-len=8192]",
    mistakes=("M15",),
    managed=True,
    needs="engine",
)
def max_model_len_over_kv(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        found = planned(pod, c, ctx)
        if found is None or c.engine is None or not c.engine.max_model_len:
            continue
        result, arch, choice = found
        if result.fits or result.memory.kv_cache_gib <= 0:
            continue
        yield Hit(
            f"--max-model-len {c.engine.max_model_len:,} exceeds the KV cache of {result.kv_cache.tokens:,} tokens "
            f"for {arch.name} on {_where(c.engine, choice)}",
            c.path,
            c.name,
        )


@rule(
    "FIT003",
    "tp-not-dividing-heads",
    Severity.ERROR,
    "Tensor parallel size does not divide the model's attention heads",
    why="Each TP rank must hold whole heads: `Total number of attention heads (64) must be divisible by tensor "
    "parallel size (6)`.",
    fix="Pick a TP from the model's valid sizes (`kubellm plan` lists them); use PP or replicas for the rest.",
    bad="args: [serve, Qwen/Qwen3-32B, --tensor-parallel-size=6]",
    good="args: [serve, Qwen/Qwen3-32B, --tensor-parallel-size=4]",
    mistakes=("M7",),
    managed=True,
    needs="engine",
)
def tp_not_dividing_heads(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        engine = c.engine
        if engine is None or not engine.tensor_parallel or engine.tensor_parallel <= 1:
            continue
        arch = find_model(ctx.catalog, engine.model)
        if arch is None:
            continue
        from kubellm.planning import valid_tps

        valid = valid_tps(arch, max(engine.tensor_parallel, 64))
        if engine.tensor_parallel not in valid:
            yield Hit(
                f"TP {engine.tensor_parallel} does not divide {arch.name}'s {arch.num_attention_heads} attention heads "
                f"({arch.num_kv_heads} KV heads); valid: {', '.join(str(v) for v in valid if v <= 16)}",
                c.path,
                c.name,
            )


@rule(
    "FIT004",
    "max-model-len-over-native",
    Severity.ERROR,
    "--max-model-len is above the model's native context",
    why="vLLM rejects a max-model-len beyond the model's `max_position_embeddings` unless RoPE scaling is "
    "configured: `User-specified max_model_len (…) is greater than the derived max_model_len`.",
    fix="Use at most the model's native context, or configure RoPE scaling (`--hf-overrides`) deliberately.",
    bad="args: [serve, meta-llama/Meta-Llama-3-8B, --max-model-len=32768]   # native 8192",
    good="args: [serve, meta-llama/Meta-Llama-3-8B, --max-model-len=8192]",
    managed=True,
    needs="engine",
)
def max_model_len_over_native(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        engine = c.engine
        if engine is None or not engine.max_model_len or engine.engine not in ("vllm", "kserve-hf", "sglang"):
            continue
        if engine.args.has("rope-scaling", "hf-overrides", "json-model-override-args"):
            continue
        arch = find_model(ctx.catalog, engine.model)
        if arch is not None and engine.max_model_len > arch.max_position_embeddings:
            yield Hit(
                f"--max-model-len {engine.max_model_len:,} is above {arch.name}'s native {arch.max_position_embeddings:,}",
                c.path,
                c.name,
            )
