"""Which catalog models fit a GPU: plan each one, keep the ones that fit, and say why.

Pure: the models, the GPU and the planner come in, assessments go out. Each model is planned as it
ships (its checkpoint's dtype or quantization); when that does not fit and the GPU computes in fp8
(Ada, Hopper or newer) it is planned again with fp8 weights quantized on load, which vLLM, SGLang and
TensorRT-LLM all do. Models that cannot fit on weights alone are rejected before planning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.errors import PlanError, UsageError
from kubellm.planning.planner import plan
from kubellm.planning.result import Plan
from kubellm.spec import LLMService

DEFAULT_CONTEXT = 8192
GIB = 2**30

# (spec, model, gpu) -> Plan; the default is kubellm.planning.plan with the catalog objects passed through.
Planner = Callable[[LLMService, ModelArch, GpuSpec], Plan]


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One model assessed against one GPU type: whether it fits, how, and why."""

    model: ModelArch
    gpu: str
    fits: bool
    why: str
    quantization: str | None = None
    tensor_parallel: int = 0
    max_model_len: int = 0
    weights_gib: float = 0.0
    kv_cache_gib: float = 0.0
    kv_tokens: int = 0
    max_concurrency: float = 0.0
    usd_per_hour: float | None = None

    def to_json_dict(self) -> dict[str, Any]:
        m = self.model
        return {
            "model": m.name,
            "hf_id": m.hf_id,
            "family": m.family,
            "params_b": round(m.total_params / 1e9, 2),
            "gpu": self.gpu,
            "fits": self.fits,
            "quantization": self.quantization,
            "tensor_parallel": self.tensor_parallel,
            "max_model_len": self.max_model_len,
            "weights_gib": round(self.weights_gib, 2),
            "kv_cache_gib": round(self.kv_cache_gib, 2),
            "kv_tokens": self.kv_tokens,
            "max_concurrency": round(self.max_concurrency, 2),
            "usd_per_hour": self.usd_per_hour,
            "license": m.license,
            "commercial_use": m.commercial_use,
            "license_note": m.license_note,
            "tasks": list(m.tasks),
            "engines": list(m.engines),
            "why": self.why,
        }


def _plan_with(spec: LLMService, model: ModelArch, gpu: GpuSpec) -> Plan:
    return plan(spec, model=model, gpu=gpu)


def _spec(
    model: ModelArch,
    gpu: GpuSpec,
    gpus: int,
    context: int,
    quantization: str,
    engine: str,
    mig_profile: str | None = None,
) -> LLMService:
    source = f"hf://{model.hf_id}" if model.hf_id.count("/") == 1 else model.name
    gpu_section: dict[str, Any] = {"type": gpu.name, "count": gpus}
    if mig_profile:
        gpu_section.update(sharing="mig", mig_profile=mig_profile)
    return LLMService.model_validate(
        {
            "metadata": {"name": "recommend"},
            "model": {"source": source, "name": model.name, "quantization": quantization},
            "engine": {"name": engine},
            "gpu": gpu_section,
            "serving": {"max_model_len": context, "target_concurrency": 1},
        }
    )


def _capacity(gpu: GpuSpec, gpus: int, mig_profile: str | None) -> tuple[str, float]:
    """(name of what is planned on, its total memory in GiB); a MIG slice stands alone."""
    if not mig_profile:
        return gpu.name, gpus * gpu.memory_gib
    profile = gpu.mig_profile(mig_profile)
    if profile is None:
        names = ", ".join(p.name for p in gpu.mig_profiles) or "none: this GPU has no MIG"
        raise PlanError(f"MIG profile {mig_profile!r} does not exist on {gpu.name}", f"pick one of: {names}")
    if gpus > 1:
        raise PlanError(
            "MIG slices cannot be combined for tensor parallelism", "drop --gpus, or plan whole GPUs"
        )
    return f"{gpu.name} MIG {profile.name}", profile.memory_gib


def _smallest_weights_gib(model: ModelArch, gpu: GpuSpec) -> float:
    dtype = model.dtype if gpu.supports_bf16 else "float16"
    smallest = model.weights_bytes_for(dtype, None)
    if gpu.supports_fp8 and model.quantization is None:
        smallest = min(smallest, model.weights_bytes_for(dtype, "fp8"))
    return smallest / GIB


def _fit_why(p: Plan, model: ModelArch, quantization: str | None, native_gib: float | None) -> str:
    mem = p.memory
    parts = []
    if quantization == "fp8" and native_gib is not None:
        parts.append(
            f"{model.dtype} weights ({native_gib:.1f} GiB/GPU) do not fit; fp8 on load needs {mem.weights_gib:.1f} GiB/GPU"
        )
    else:
        parts.append(f"weights {mem.weights_gib:.1f} GiB/GPU")
    parts.append(
        f"leaves {mem.kv_cache_gib:.1f} GiB KV cache = {p.kv_cache.tokens:,} tokens, "
        f"{p.kv_cache.max_concurrency:.1f} requests of {p.kv_cache.max_model_len:,}"
    )
    return "; ".join(parts)


def _assessment(p: Plan, model: ModelArch, where: str, quantization: str | None, why: str) -> Recommendation:
    return Recommendation(
        model=model,
        gpu=where,
        fits=p.fits,
        why=why,
        quantization=quantization,
        tensor_parallel=p.parallelism.tensor_parallel,
        max_model_len=p.kv_cache.max_model_len,
        weights_gib=p.memory.weights_gib,
        kv_cache_gib=p.memory.kv_cache_gib,
        kv_tokens=p.kv_cache.tokens,
        max_concurrency=p.kv_cache.max_concurrency,
        usd_per_hour=p.cost.usd_per_hour,
    )


def assess(
    model: ModelArch,
    gpu: GpuSpec,
    *,
    gpus: int = 1,
    context: int | None = None,
    engine: str = "vllm",
    mig_profile: str | None = None,
    planner: Planner | None = None,
) -> Recommendation:
    """Whether ``model`` fits ``gpus`` GPUs of type ``gpu`` (or one MIG slice of it) at ``context`` tokens.

    The answer says why (or why not). Raises PlanError for a MIG profile the GPU does not have.
    """
    where, capacity_gib = _capacity(gpu, gpus, mig_profile)
    if engine not in model.engines:
        return Recommendation(model, where, False, f"{engine} does not serve {model.architecture}")
    if context is not None and context > model.max_position_embeddings:
        return Recommendation(
            model, where, False, f"context {context:,} exceeds the model's {model.max_position_embeddings:,}"
        )
    length = context or min(DEFAULT_CONTEXT, model.max_position_embeddings)
    smallest = _smallest_weights_gib(model, gpu)
    if smallest > capacity_gib:
        on = f"{gpus}× {where}" if gpus > 1 else f"one {where}"
        return Recommendation(
            model, where, False, f"weights alone ({smallest:.1f} GiB) exceed {on} ({capacity_gib:.1f} GiB)"
        )
    run = planner or _plan_with
    tries: list[str] = ["none"]
    if gpu.supports_fp8 and model.quantization is None:
        tries.append("fp8")
    native_gib: float | None = None
    last: Recommendation | None = None
    for quantization in tries:
        try:
            p = run(_spec(model, gpu, gpus, length, quantization, engine, mig_profile), model, gpu)
        except UsageError as exc:  # e.g. a GPU count that does not divide the attention heads
            return Recommendation(model, where, False, exc.what)
        quant = None if quantization == "none" else quantization
        if p.fits:
            return _assessment(p, model, where, quant, _fit_why(p, model, quant, native_gib))
        if quantization == "none":
            native_gib = p.memory.weights_gib
        reason = p.suggestion.why if p.suggestion else "not enough memory left for one request's KV cache"
        last = _assessment(p, model, where, quant, reason)
    assert last is not None
    return last


def recommend(
    models: Sequence[ModelArch],
    gpu: GpuSpec,
    *,
    gpus: int = 1,
    context: int | None = None,
    engine: str = "vllm",
    mig_profile: str | None = None,
    planner: Planner | None = None,
    include_rejected: bool = False,
) -> list[Recommendation]:
    """The models that fit, most parameters first (unquantized before fp8 at equal size).

    With ``include_rejected`` the models that do not fit follow, each with its reason.
    """
    run = planner or _plan_with
    found = [
        assess(m, gpu, gpus=gpus, context=context, engine=engine, mig_profile=mig_profile, planner=run)
        for m in models
    ]
    fitting = sorted(
        (r for r in found if r.fits),
        key=lambda r: (-r.model.total_params, r.quantization is not None, r.model.name),
    )
    if not include_rejected:
        return fitting
    rejected = sorted((r for r in found if not r.fits), key=lambda r: (r.model.total_params, r.model.name))
    return fitting + rejected
