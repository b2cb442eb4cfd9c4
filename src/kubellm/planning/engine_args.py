"""Engine command-line arguments from planned settings, one builder per engine.

Flag names and value spellings come from the engine tables (``kubellm.engines``); the builders
only decide which settings each engine takes and compute derived values (TGI's input limit,
llama.cpp's slots × context).
"""

from __future__ import annotations

from collections.abc import Callable

from kubellm.engines import LLAMACPP, SGLANG, TGI, TRTLLM, VLLM, EngineTable
from kubellm.planning.result import EngineSettings, Parallelism

ArgsBuilder = Callable[[EngineSettings, Parallelism, bool], list[str]]
LLAMACPP_MAX_SLOTS = 8
LLAMACPP_MAX_BATCH = 2048


def _arg(table: EngineTable, setting: str, value: object) -> list[str]:
    flag = table.flag(setting)
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return [flag.name, flag.engine_value(text)]


def _derived(table: EngineTable, name: str, value: object) -> list[str]:
    """A flag whose value the builder computes (the table still names and owns it)."""
    return [table.named(name).name, str(value)]


def _switch(table: EngineTable, setting: str, on: bool) -> list[str]:
    """A boolean setting: the flag when it says ``on``, its negation (if any) otherwise."""
    flag = table.flag(setting)
    if on == flag.when_present:
        return [flag.name]
    return [flag.negation] if flag.negation else []


def _vllm(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    t = VLLM
    args = [
        *_arg(t, "max_model_len", s.max_model_len),
        *_arg(t, "gpu_memory_utilization", s.gpu_memory_utilization),
        *_arg(t, "tensor_parallel", p.tensor_parallel),
    ]
    if p.pipeline_parallel > 1:
        args += _arg(t, "pipeline_parallel", p.pipeline_parallel)
    args += [
        *_arg(t, "max_num_seqs", s.max_num_seqs),
        *_arg(t, "max_num_batched_tokens", s.max_num_batched_tokens),
    ]
    if s.dtype != "auto":
        args += _arg(t, "dtype", s.dtype)
    if s.quantization:
        args += _arg(t, "quantization", s.quantization)
    if s.kv_cache_dtype != "auto":
        args += _arg(t, "kv_cache_dtype", s.kv_cache_dtype)
    if s.enforce_eager:  # written only when set: the default needs no flag on any release
        args += _switch(t, "enforce_eager", True)
    return [*args, *_switch(t, "prefix_caching", prefix_caching)]


def _sglang(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    t = SGLANG
    args = [
        *_arg(t, "max_model_len", s.max_model_len),
        *_arg(t, "gpu_memory_utilization", s.gpu_memory_utilization),
        *_arg(t, "tensor_parallel", p.tensor_parallel),
        *_arg(t, "max_num_seqs", s.max_num_seqs),
        *_arg(t, "max_num_batched_tokens", s.max_num_batched_tokens),
    ]
    if p.pipeline_parallel > 1:
        args += _arg(t, "pipeline_parallel", p.pipeline_parallel)
    if s.quantization:
        args += _arg(t, "quantization", s.quantization)
    if s.kv_cache_dtype != "auto":
        args += _arg(t, "kv_cache_dtype", s.kv_cache_dtype)
    args += _switch(t, "prefix_caching", prefix_caching)
    if s.dtype != "auto":
        args += _arg(t, "dtype", s.dtype)
    return args


def _tgi(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    t = TGI
    args = [
        *_arg(t, "tensor_parallel", p.tensor_parallel),
        *_arg(t, "max_model_len", s.max_model_len),
        *_derived(t, "--max-input-tokens", max(1, s.max_model_len - 1)),
        *_derived(t, "--max-batch-prefill-tokens", max(s.max_num_batched_tokens, s.max_model_len)),
        *_arg(t, "max_num_seqs", s.max_num_seqs),
        *_arg(t, "gpu_memory_utilization", s.gpu_memory_utilization),
    ]  # fmt: skip
    quantized = s.quantization is not None and s.quantization in dict(t.flag("quantization").values)
    if quantized:
        args += _arg(t, "quantization", s.quantization)
    if s.kv_cache_dtype != "auto":
        args += _arg(t, "kv_cache_dtype", s.kv_cache_dtype)
    if not quantized and s.dtype in ("bfloat16", "float16"):
        args += _arg(t, "dtype", s.dtype)
    return args


def _trtllm(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    t = TRTLLM
    args = [
        *_arg(t, "tensor_parallel", p.tensor_parallel),
        *_arg(t, "pipeline_parallel", p.pipeline_parallel),
        *_arg(t, "max_model_len", s.max_model_len),
        *_arg(t, "max_num_seqs", s.max_num_seqs),
        *_arg(t, "max_num_batched_tokens", s.max_num_batched_tokens),
        *_arg(t, "gpu_memory_utilization", s.gpu_memory_utilization),
    ]
    if s.quantization == "fp8":
        args += _derived(t, "--use_fp8", "")[:1]
    return args


def llamacpp_slots(s: EngineSettings) -> int:
    """Parallel slots of llama-server: the planned sequences, at most 8 (each slot holds a full context)."""
    return max(1, min(s.max_num_seqs, LLAMACPP_MAX_SLOTS))


def _llamacpp(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    t = LLAMACPP
    slots = llamacpp_slots(s)
    return [
        *_derived(t, "--ctx-size", s.max_model_len * slots),
        *_arg(t, "max_num_seqs", slots),
        *_derived(t, "--n-gpu-layers", 999),
        *_arg(t, "max_num_batched_tokens", min(s.max_num_batched_tokens, LLAMACPP_MAX_BATCH)),
    ]  # fmt: skip


ARGS_BUILDERS: dict[str, ArgsBuilder] = {
    "vllm": _vllm,
    "sglang": _sglang,
    "tgi": _tgi,
    "trtllm": _trtllm,
    "llamacpp": _llamacpp,
}


def engine_args(settings: EngineSettings, parallelism: Parallelism, prefix_caching: bool) -> list[str]:
    """The planned arguments for ``settings.engine`` (without the model path and served name)."""
    return ARGS_BUILDERS[settings.engine](settings, parallelism, prefix_caching)
