"""Ollama: configured by environment only (OLLAMA_CONTEXT_LENGTH, OLLAMA_NUM_PARALLEL, OLLAMA_MODELS…)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import OLLAMA
from kubellm.lint.engines.base import EngineConfig, from_table


def find_invocation(argv: Sequence[str]) -> list[str] | None:
    for i, token in enumerate(argv):
        if token.rsplit("/", 1)[-1] == "ollama" and i + 1 < len(argv) and argv[i + 1] == "serve":
            return list(argv[i + 2 :])
    return None


def parse(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    config = from_table("ollama", OLLAMA, [], env)
    config.argv = list(argv)
    return config
