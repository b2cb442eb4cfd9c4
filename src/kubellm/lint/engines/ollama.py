"""Ollama: configured by environment only (OLLAMA_CONTEXT_LENGTH, OLLAMA_NUM_PARALLEL, OLLAMA_MODELS…)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.lint.engines.argv import ParsedArgs, to_int
from kubellm.lint.engines.base import EngineConfig


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token.rsplit("/", 1)[-1] == "ollama" and i + 1 < len(argv) and argv[i + 1] == "serve":
            return list(argv[i + 2 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    return EngineConfig(
        engine="ollama",
        argv=list(argv),
        args=ParsedArgs(),
        max_model_len=to_int(env.get("OLLAMA_CONTEXT_LENGTH")),
        max_num_seqs=to_int(env.get("OLLAMA_NUM_PARALLEL")),
        download_dir=env.get("OLLAMA_MODELS"),
    )
