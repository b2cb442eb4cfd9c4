"""Triton Inference Server and TensorRT-LLM: `tritonserver`, `trtllm-serve`, and the tutorials' server.py.

TP comes from `--tp`/`--tp_size`/`--tensor-parallel-size`/`--world_size`; a TensorRT-LLM ensemble
uses Python-backend pre/post-processing models, which need /dev/shm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import TRITON, TRTLLM, to_int
from kubellm.lint.engines.base import EngineConfig, from_table


def find_invocation(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    for i, token in enumerate(argv):
        if token == "-m" and i + 1 < len(argv) and argv[i + 1] == "dynamo.trtllm":
            return "trtllm", list(argv[i + 2 :])  # NVIDIA Dynamo's TensorRT-LLM worker
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
    config = from_table(engine, TRTLLM if engine == "trtllm" else TRITON, argv, env)
    args = config.args
    config.model = config.model or args.get("model", "model-path")
    config.extra_config = args.get("extra-engine-args", "extra-llm-api-options", "config")
    if engine == "trtllm" and config.model is None and args.positionals:
        config.model = args.positionals[0]
    config.max_model_len = config.max_model_len or to_int(args.get("max-input-len"))
    config.python_backend = engine == "triton" and (
        any("trtllm" in t or "ensemble" in t or "python" in t for t in argv) or args.has("backend-config")
    )
    return config
