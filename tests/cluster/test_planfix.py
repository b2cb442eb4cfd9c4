"""KV-cache fixes: the engine's figure, and with the spec the planner's (kubellm.planning, never re-derived here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.cluster.doctor import diagnose_text
from kubellm.cluster.planfix import context_that_fits, kv_cache_fix
from kubellm.planning import plan
from kubellm.planning.layout import AUTO_CONTEXTS
from kubellm.spec import LLMService

V1_LOG = (
    "(EngineCore_DP0 pid=1094) ValueError: To serve at least one request with the models's max seq len (32768), "
    "(4.00 GiB KV cache is needed, which is larger than the available KV cache memory (3.42 GiB). Based on the "
    "available memory, the estimated maximum model length is 28016. Try increasing `gpu_memory_utilization` or "
    "decreasing `max_model_len` when initializing the engine.\n"
)


def spec(**serving: Any) -> LLMService:
    return LLMService.model_validate(
        {
            "metadata": {"name": "llama-8b", "namespace": "llm"},
            "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
            "engine": {"name": "vllm"},
            "gpu": {"type": "L4", "count": 1},
            "serving": {"max_model_len": 32768, **serving},
        }
    )


def planned_tokens(base: LLMService, section: str, **changes: Any) -> int:
    data = base.model_dump(mode="python")
    data[section].update(changes)
    return plan(LLMService.model_validate(data)).kv_cache.tokens


def test_with_the_spec_each_way_to_keep_the_length_is_planned() -> None:
    base = spec()
    p = plan(base)
    (finding,) = diagnose_text(V1_LOG, "engine", p)
    assert finding.category == "kv-cache"
    scale = 28016 / p.kv_cache.tokens
    fp8 = int(planned_tokens(base, "serving", kv_cache_dtype="fp8") * scale)
    tp2 = int(planned_tokens(base, "gpu", count=2) * scale)
    assert finding.fix.startswith(
        "Max model length that fits: 28,016 (configured 32,768) — set serving.max_model_len: 16384; or keep 32,768 "
        f"tokens with serving.kv_cache_dtype: fp8 (planner: ≈{fp8:,} tokens)"
    )
    assert f"gpu.count: 2 (planner: ≈{tp2:,} tokens)" in finding.fix
    util = planned_tokens(base, "gpu", memory_utilization=0.95) * scale
    assert ("gpu.memory_utilization: 0.95" in finding.fix) is (util >= 32768)


def test_without_the_spec_the_engines_figure_alone() -> None:
    (finding,) = diagnose_text(V1_LOG, "engine")
    assert finding.fix.startswith(
        "Max model length that fits: 28,016 (configured 32,768) — set serving.max_model_len: 16384, or keep"
    )
    assert "planner" not in finding.fix


def test_no_engine_figure_uses_the_planners_estimate_and_says_so() -> None:
    p = plan(spec(kv_cache_dtype="fp8"))
    fix = kv_cache_fix(None, None, p)
    assert fix is not None
    assert f"Max model length that fits: {p.kv_cache.tokens:,} (planner's estimate)" in fix
    assert "kv_cache_dtype" not in fix  # already fp8: not offered again


def test_nothing_keeps_the_length_says_so() -> None:
    p = plan(spec(max_model_len=131072, kv_cache_dtype="fp8"))
    fix = kv_cache_fix(1200, 131072, p)
    assert fix is not None and fix.endswith(
        "no single spec change the planner knows keeps 131,072 tokens on this GPU."
    )
    assert "serving.max_model_len: 1200" in fix  # below the ladder's 2K: the figure itself


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**7))
def test_the_context_to_set_is_on_the_planners_ladder_and_fits(tokens: int) -> None:
    ctx = context_that_fits(tokens)
    assert ctx <= tokens
    assert ctx in AUTO_CONTEXTS or ctx == tokens < AUTO_CONTEXTS[0]
    assert all(c <= ctx or c > tokens for c in AUTO_CONTEXTS)  # the longest rung that fits


def test_cli_with_spec_and_logs_reads_the_log_with_the_plan(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text(V1_LOG.replace("(32768)", "(8192)").replace("28016", "7504"), encoding="utf-8")
    example = Path(__file__).resolve().parents[2] / "examples" / "llama-3.1-8b-l4.yaml"
    result = CliRunner().invoke(app, ["doctor", str(example), "--logs", str(log), "--json"])
    assert result.exit_code == 1, result.output
    (finding,) = json.loads(result.output)["findings"]
    assert "(configured 8,192) — set serving.max_model_len: 4096; or keep 8,192 tokens with" in finding["fix"]
    assert "serving.kv_cache_dtype: fp8 (planner: ≈" in finding["fix"]
