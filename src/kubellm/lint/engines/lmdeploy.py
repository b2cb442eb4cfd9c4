"""LMDeploy: `lmdeploy serve api_server MODEL --tp 2 --session-len 8192`, by the LMDeploy engine table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import LMDEPLOY
from kubellm.lint.engines.base import EngineConfig, from_table


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token.rsplit("/", 1)[-1] == "lmdeploy" and list(argv[i + 1 : i + 3]) == ["serve", "api_server"]:
            return list(argv[i + 3 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    config = from_table("lmdeploy", LMDEPLOY, argv, env)
    config.model = config.model or (config.args.positionals[0] if config.args.positionals else None)
    config.api_key = config.args.has("api-keys")
    config.sizes_context = True  # LMDeploy sizes its KV cache from what is left after the weights
    return config
