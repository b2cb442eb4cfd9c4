"""llama.cpp server: `llama-server -m model.gguf -c 8192 -ngl 99 --parallel 4`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.lint.engines.argv import parse_flags, to_int
from kubellm.lint.engines.base import EngineConfig

BOOLEAN_FLAGS = frozenset(
    {"cont-batching", "no-mmap", "mlock", "flash-attn", "fa", "embedding", "metrics", "no-webui"}
)


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token.rsplit("/", 1)[-1] in ("llama-server", "server") and (i == 0 or "llama" in token):
            return list(argv[i + 1 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    args = parse_flags(argv, BOOLEAN_FLAGS)
    return EngineConfig(
        engine="llamacpp",
        argv=list(argv),
        args=args,
        model=args.get("m", "model", "hf", "hf-repo", "hfr") or env.get("LLAMA_ARG_MODEL"),
        max_model_len=to_int(args.get("c", "ctx-size") or env.get("LLAMA_ARG_CTX_SIZE")),
        api_key=args.has("api-key", "api-key-file") or bool(env.get("LLAMA_API_KEY")),
        max_num_seqs=to_int(args.get("np", "parallel") or env.get("LLAMA_ARG_N_PARALLEL")),
        device="cpu" if args.get("ngl", "n-gpu-layers", "gpu-layers") == "0" else None,
    )
