"""SGLang: `python -m sglang.launch_server --model-path M --tp 2 --context-length N …`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.lint.engines.argv import parse_flags, to_float, to_int
from kubellm.lint.engines.base import EngineConfig

BOOLEAN_FLAGS = frozenset(
    {
        "trust-remote-code",
        "enable-torch-compile",
        "disable-radix-cache",
        "enable-dp-attention",
        "disable-cuda-graph",
    }
)


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token == "-m" and i + 1 < len(argv) and argv[i + 1] == "sglang.launch_server":
            return list(argv[i + 2 :])
        if (
            token.rsplit("/", 1)[-1] == "sglang"
            and i + 1 < len(argv)
            and argv[i + 1] in ("serve", "launch_server")
        ):
            return list(argv[i + 2 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    args = parse_flags(argv, BOOLEAN_FLAGS)
    return EngineConfig(
        engine="sglang",
        argv=list(argv),
        args=args,
        model=args.get("model-path", "model"),
        tensor_parallel=to_int(args.get("tp", "tp-size", "tensor-parallel-size")),
        pipeline_parallel=to_int(args.get("pp", "pp-size", "pipeline-parallel-size")),
        data_parallel=to_int(args.get("dp", "dp-size", "data-parallel-size")),
        max_model_len=to_int(args.get("context-length")),
        gpu_memory_utilization=to_float(args.get("mem-fraction-static")),
        quantization=args.get("quantization"),
        dtype=args.get("dtype"),
        kv_cache_dtype=args.get("kv-cache-dtype"),
        download_dir=args.get("download-dir"),
        device=args.get("device"),
        api_key=args.has("api-key"),
        max_num_seqs=to_int(args.get("max-running-requests")),
    )
