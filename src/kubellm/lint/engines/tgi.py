"""Hugging Face TGI: `text-generation-launcher` flags and their environment twins (MODEL_ID, NUM_SHARD…).

TGI reads every launcher flag from an environment variable of the same name in upper snake case;
a flag on the command line wins over the environment. The TGI engine table says which flags exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import TGI
from kubellm.lint.engines.base import EngineConfig, from_table


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token.rsplit("/", 1)[-1] == "text-generation-launcher":
            return list(argv[i + 1 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    config = from_table("tgi", TGI, argv, env)
    if config.tensor_parallel is None and (
        config.args.has("sharded") or env.get("SHARDED", "").lower() == "true"
    ):
        config.tensor_parallel = 2  # sharded without a count: every visible GPU, at least two
    config.download_dir = config.download_dir or env.get("HF_HUB_CACHE")
    config.api_key = bool(env.get("API_KEY")) or config.args.has("api-key")
    return config
