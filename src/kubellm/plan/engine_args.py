"""Engine command-line arguments from planned settings, one builder per engine."""

from __future__ import annotations

from collections.abc import Callable

from kubellm.plan.result import EngineSettings, Parallelism

ArgsBuilder = Callable[[EngineSettings, Parallelism, bool], list[str]]


def _vllm(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    args = [
        "--max-model-len", str(s.max_model_len),
        "--gpu-memory-utilization", f"{s.gpu_memory_utilization:.2f}",
        "--tensor-parallel-size", str(p.tensor_parallel),
    ]  # fmt: skip
    if p.pipeline_parallel > 1:
        args += ["--pipeline-parallel-size", str(p.pipeline_parallel)]
    args += ["--max-num-seqs", str(s.max_num_seqs), "--max-num-batched-tokens", str(s.max_num_batched_tokens)]
    if s.dtype != "auto":
        args += ["--dtype", s.dtype]
    if s.quantization:
        args += ["--quantization", s.quantization]
    if s.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", s.kv_cache_dtype]
    args.append("--enable-prefix-caching" if prefix_caching else "--no-enable-prefix-caching")
    return args


def _sglang(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    args = [
        "--context-length", str(s.max_model_len),
        "--mem-fraction-static", f"{s.gpu_memory_utilization:.2f}",
        "--tp-size", str(p.tensor_parallel),
        "--max-running-requests", str(s.max_num_seqs),
        "--chunked-prefill-size", str(s.max_num_batched_tokens),
    ]  # fmt: skip
    if p.pipeline_parallel > 1:
        args += ["--pp-size", str(p.pipeline_parallel)]
    if s.quantization:
        args += ["--quantization", s.quantization]
    if s.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", "fp8_e4m3" if s.kv_cache_dtype == "fp8" else s.kv_cache_dtype]
    if not prefix_caching:
        args.append("--disable-radix-cache")
    return args


_TGI_QUANTIZE = {
    "fp8": "fp8",
    "awq": "awq",
    "gptq": "gptq",
    "int8": "bitsandbytes",
    "int4": "bitsandbytes-nf4",
}


def _tgi(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    args = [
        "--num-shard", str(p.tensor_parallel),
        "--max-total-tokens", str(s.max_model_len),
        "--max-input-tokens", str(max(1, s.max_model_len - 1)),
        "--max-batch-prefill-tokens", str(max(s.max_num_batched_tokens, s.max_model_len)),
        "--max-concurrent-requests", str(s.max_num_seqs),
        "--cuda-memory-fraction", f"{s.gpu_memory_utilization:.2f}",
    ]  # fmt: skip
    if s.quantization in _TGI_QUANTIZE:
        args += ["--quantize", _TGI_QUANTIZE[s.quantization]]
    if s.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", "fp8_e4m3fn" if s.kv_cache_dtype in ("fp8", "fp8_e4m3") else "fp8_e5m2"]
    return args


def _trtllm(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    args = [
        "--tp_size", str(p.tensor_parallel),
        "--pp_size", str(p.pipeline_parallel),
        "--max_seq_len", str(s.max_model_len),
        "--max_batch_size", str(s.max_num_seqs),
        "--max_num_tokens", str(s.max_num_batched_tokens),
        "--kv_cache_free_gpu_memory_fraction", f"{s.gpu_memory_utilization:.2f}",
    ]  # fmt: skip
    if s.quantization == "fp8":
        args += ["--use_fp8"]
    return args


def _llamacpp(s: EngineSettings, p: Parallelism, prefix_caching: bool) -> list[str]:
    slots = max(1, min(s.max_num_seqs, 8))
    return [
        "--ctx-size", str(s.max_model_len * slots),
        "--parallel", str(slots),
        "--n-gpu-layers", "999",
        "--batch-size", str(min(s.max_num_batched_tokens, 2048)),
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
