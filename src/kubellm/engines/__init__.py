"""One table per serving engine: flags, owners, spellings, served names, metrics, readiness, ports.

A foundation package beside ``catalog`` (it imports only ``kubellm.spec``). Readers:

- ``kubellm.planning.engine_args`` writes the planned flags by the names found here;
- ``kubellm.render.engines`` takes ports, probe paths and metric names from here, and
  :func:`check_extra_args` refuses an ``engine.extra_args`` entry that sets an owned flag;
- ``kubellm.lint.engines`` parses argv and environment with :func:`read_settings`;
- ``kubellm.local`` guards extra_args the same way and names the served model with :func:`served_name`;
- ``kubellm.sim`` serves under :func:`served_name` and reports the vLLM table's metric names.
"""

from __future__ import annotations

from kubellm.engines.guard import check_extra_args, check_extra_env, conflicting_flag
from kubellm.engines.lintonly import LMDEPLOY, NIM, OLLAMA, RAY_ENGINE_KWARGS, RAY_SERVE_LLM
from kubellm.engines.llamacpp import LLAMACPP, LLAMACPP_PYTHON
from kubellm.engines.naming import served_name
from kubellm.engines.reading import ParsedArgs, parse_flags, read_settings, to_float, to_int
from kubellm.engines.sglang import SGLANG
from kubellm.engines.table import KUBELLM, EngineTable, EnvSetting, Flag, MetricNames, Readiness, flag_key
from kubellm.engines.tgi import TGI
from kubellm.engines.trtllm import TRITON, TRTLLM
from kubellm.engines.vllm import VLLM

# Engines kubellm plans and renders (the spec's engine.name values).
RENDERED: dict[str, EngineTable] = {t.name: t for t in (VLLM, SGLANG, TGI, TRTLLM, LLAMACPP)}
# Every engine kubellm knows, lint-only ones included.
TABLES: dict[str, EngineTable] = {
    **RENDERED,
    **{t.name: t for t in (TRITON, OLLAMA, NIM, LMDEPLOY, RAY_SERVE_LLM, LLAMACPP_PYTHON)},
}


def table_for(engine: str) -> EngineTable:
    """The table of an engine name (``vllm``, ``tgi``, …); KeyError names the known ones."""
    try:
        return TABLES[str(engine)]
    except KeyError:
        raise KeyError(f"no engine table for {engine!r}; known: {', '.join(sorted(TABLES))}") from None


__all__ = [
    "KUBELLM",
    "LLAMACPP",
    "LLAMACPP_PYTHON",
    "LMDEPLOY",
    "NIM",
    "OLLAMA",
    "RAY_ENGINE_KWARGS",
    "RAY_SERVE_LLM",
    "RENDERED",
    "SGLANG",
    "TABLES",
    "TGI",
    "TRITON",
    "TRTLLM",
    "VLLM",
    "EngineTable",
    "EnvSetting",
    "Flag",
    "MetricNames",
    "ParsedArgs",
    "Readiness",
    "check_extra_args",
    "check_extra_env",
    "conflicting_flag",
    "flag_key",
    "parse_flags",
    "read_settings",
    "served_name",
    "table_for",
    "to_float",
    "to_int",
]
