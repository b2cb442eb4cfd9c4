"""Triton Inference Server and TensorRT-LLM: `tritonserver`, `trtllm-serve`, and the tutorials' server.py.

TP comes from `--tp`/`--tp_size`/`--tensor-parallel-size`/`--world_size`; a TensorRT-LLM ensemble
uses Python-backend pre/post-processing models, which need /dev/shm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.lint.engines.argv import parse_flags, to_int
from kubellm.lint.engines.base import EngineConfig


def find_invocation(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    for i, token in enumerate(argv):
        exe = token.rsplit("/", 1)[-1]
        if exe == "tritonserver":
            return "triton", list(argv[i + 1 :])
        if exe == "trtllm-serve":
            return "trtllm", list(argv[i + 1 :])
        if exe in ("server.py", "launch_triton_server.py") and any(
            "trtllm" in t or "--tp" in t for t in argv
        ):
            return "triton", list(argv[i + 1 :])
    return None


def parse(engine: str, argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    args = parse_flags(argv)
    tp = to_int(args.get("tp", "tp-size", "tensor-parallel-size", "world-size"))
    pp = to_int(args.get("pp", "pp-size", "pipeline-parallel-size"))
    model = args.get("model", "model-repository", "model-store")
    if engine == "trtllm" and model is None and args.positionals:
        model = args.positionals[0]
    python_backend = engine == "triton" and (
        any("trtllm" in t or "ensemble" in t or "python" in t for t in argv) or args.has("backend-config")
    )
    return EngineConfig(
        engine=engine,
        argv=list(argv),
        args=args,
        model=model,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        dtype=args.get("dt", "dtype"),
        max_model_len=to_int(args.get("max-seq-len", "max-input-len")),
        python_backend=python_backend,
    )
