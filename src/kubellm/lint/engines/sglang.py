"""SGLang: `python -m sglang.launch_server --model-path M --tp 2 --context-length N …`.

Flags and spellings come from the SGLang engine table (``kubellm.engines.sglang``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import SGLANG, to_int
from kubellm.lint.engines.base import EngineConfig, from_table


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token == "-m" and i + 1 < len(argv) and argv[i + 1] in ("sglang.launch_server", "dynamo.sglang"):
            return list(argv[i + 2 :])
        if (
            token.rsplit("/", 1)[-1] == "sglang"
            and i + 1 < len(argv)
            and argv[i + 1] in ("serve", "launch_server")
        ):
            return list(argv[i + 2 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    config = from_table("sglang", SGLANG, argv, env)
    config.api_key = config.args.has("api-key")
    config.nodes = to_int(config.args.get("nnodes"))
    config.sizes_context = True  # SGLang caps a request at its KV pool instead of refusing to start
    return config
