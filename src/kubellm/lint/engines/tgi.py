"""Hugging Face TGI: `text-generation-launcher` flags and their environment twins (MODEL_ID, NUM_SHARD…).

TGI reads every launcher flag from an environment variable of the same name in upper snake case;
a flag on the command line wins over the environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.lint.engines.argv import parse_flags, to_int
from kubellm.lint.engines.base import EngineConfig

BOOLEAN_FLAGS = frozenset({"sharded", "trust-remote-code", "disable-custom-kernels", "json-output"})


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token.rsplit("/", 1)[-1] == "text-generation-launcher":
            return list(argv[i + 1 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    args = parse_flags(argv, BOOLEAN_FLAGS)

    def value(flag: str) -> str | None:
        return args.get(flag) or env.get(flag.upper().replace("-", "_")) or None

    shards = to_int(value("num-shard"))
    if shards is None and (args.has("sharded") or env.get("SHARDED", "").lower() == "true"):
        shards = 2  # sharded without a count: every visible GPU, at least two
    return EngineConfig(
        engine="tgi",
        argv=list(argv),
        args=args,
        model=value("model-id"),
        tensor_parallel=shards,
        max_model_len=to_int(value("max-total-tokens")),
        quantization=value("quantize"),
        dtype=value("dtype"),
        download_dir=args.get("huggingface-hub-cache")
        or env.get("HUGGINGFACE_HUB_CACHE")
        or env.get("HF_HUB_CACHE"),
        api_key=bool(env.get("API_KEY")) or args.has("api-key"),
        max_num_seqs=to_int(value("max-concurrent-requests")),
    )
