"""llama.cpp server: `llama-server -m model.gguf -c 8192 -ngl 99 --parallel 4`.

Flags, spellings and `LLAMA_ARG_*` variables come from the llama.cpp engine table. ``-c`` is the context
of all slots together, so one request's context (``max_model_len``) is ``ctx-size / parallel``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import LLAMACPP, to_int
from kubellm.lint.engines.base import EngineConfig, from_table


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token.rsplit("/", 1)[-1] in ("llama-server", "server") and (i == 0 or "llama" in token):
            return list(argv[i + 1 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    config = from_table("llamacpp", LLAMACPP, argv, env)
    args = config.args
    config.model = config.model or args.get("hf", "hf-repo", "hfr")
    ctx_flag = LLAMACPP.named("--ctx-size")
    ctx = to_int(args.get(*ctx_flag.spellings) or env.get(ctx_flag.env or ""))
    slots = config.max_num_seqs or 1
    config.max_model_len = ctx // slots if ctx else None
    config.api_key = args.has("api-key", "api-key-file") or bool(env.get("LLAMA_API_KEY"))
    config.device = "cpu" if args.get(*LLAMACPP.named("--n-gpu-layers").spellings) == "0" else None
    return config
