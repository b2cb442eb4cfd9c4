"""vLLM (and KServe's huggingfaceserver, which takes vLLM's flags): `vllm serve MODEL --flag …`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.lint.engines.argv import flag_name, parse_flags, to_float, to_int
from kubellm.lint.engines.base import EngineConfig

# Flags that never take a value (so `--enforce-eager /models/x` keeps /models/x positional).
BOOLEAN_FLAGS = frozenset(
    {
        "enforce-eager",
        "trust-remote-code",
        "enable-prefix-caching",
        "no-enable-prefix-caching",
        "enable-chunked-prefill",
        "no-enable-chunked-prefill",
        "disable-log-requests",
        "disable-log-stats",
        "enable-lora",
        "disable-uvicorn-access-log",
        "enable-auto-tool-choice",
        "enable-expert-parallel",
        "disable-custom-all-reduce",
        "enable-reasoning",
        "disable-frontend-multiprocessing",
        "headless",
        "enable-log-requests",
        "enable-sleep-mode",
        "async-scheduling",
    }
)
SHORT = {
    "tp": "tensor-parallel-size",
    "pp": "pipeline-parallel-size",
    "dp": "data-parallel-size",
    "q": "quantization",
}
ENTRYPOINT_MODULES = (
    "vllm.entrypoints.openai.api_server",
    "vllm.entrypoints.api_server",
    "huggingfaceserver",
)


def find_invocation(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """('vllm' | 'kserve-hf', the engine's own arguments) when argv starts vLLM, else None."""
    for i, token in enumerate(argv):
        exe = token.rsplit("/", 1)[-1]
        if exe == "vllm" and i + 1 < len(argv) and argv[i + 1] == "serve":
            return "vllm", list(argv[i + 2 :])
        if token == "-m" and i + 1 < len(argv) and argv[i + 1] in ENTRYPOINT_MODULES:
            engine = "kserve-hf" if argv[i + 1] == "huggingfaceserver" else "vllm"
            return engine, list(argv[i + 2 :])
    return None


def parse(
    engine: str, argv: Sequence[str], env: Mapping[str, str], positional_model: bool = True
) -> EngineConfig:
    """vLLM flags (hyphen or underscore spelling) and the VLLM_* / HF_* environment."""
    if argv and argv[0] == "serve":  # image entrypoint `vllm` with args [serve, MODEL, …]
        argv = argv[1:]
    args = parse_flags(argv, BOOLEAN_FLAGS)
    for short, long in SHORT.items():
        if short in args.flags:
            args.flags.setdefault(long, []).extend(args.flags.pop(short))
    model = args.get("model", "model-id", "model-dir")
    if model is None and positional_model and args.positionals:
        model = args.positionals[0]
    if engine == "kserve-hf":
        model = args.get("model-id", "model-dir") or model
    token_flags = [name for name in args.flags if flag_name(name) in ("hf-token", "token")]
    return EngineConfig(
        engine=engine,
        argv=list(argv),
        args=args,
        model=model,
        tensor_parallel=to_int(args.get("tensor-parallel-size")),
        pipeline_parallel=to_int(args.get("pipeline-parallel-size")),
        data_parallel=to_int(args.get("data-parallel-size")),
        max_model_len=to_int(args.get("max-model-len")),
        gpu_memory_utilization=to_float(args.get("gpu-memory-utilization")),
        quantization=args.get("quantization"),
        dtype=args.get("dtype"),
        kv_cache_dtype=args.get("kv-cache-dtype"),
        download_dir=args.get("download-dir"),
        device=args.get("device") or ("cpu" if env.get("VLLM_TARGET_DEVICE") == "cpu" else None),
        api_key=args.has("api-key") or bool(env.get("VLLM_API_KEY")),
        token_on_command_line=bool(token_flags),
        max_num_seqs=to_int(args.get("max-num-seqs", "max-num-seq")),
    )
