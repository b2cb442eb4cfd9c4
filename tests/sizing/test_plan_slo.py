"""`serving.slo` in the plan: a warning when the predicted latency at the target concurrency breaks it."""

from __future__ import annotations

from kubellm.planning import plan
from kubellm.spec import LLMService


def spec(itl_ms: float, ttft_ms: float, concurrency: int) -> LLMService:
    return LLMService.model_validate(
        {
            "metadata": {"name": "t"},
            "model": {"source": "hf://Qwen/Qwen2.5-7B-Instruct"},
            "gpu": {"type": "L4", "count": 1},
            "serving": {"max_model_len": 4096, "target_concurrency": concurrency,
                        "slo": {"itl_p95_ms": itl_ms, "ttft_p95_ms": ttft_ms}},
        }
    )  # fmt: skip


def test_a_loose_slo_gives_no_warning() -> None:
    p = plan(spec(itl_ms=500, ttft_ms=20_000, concurrency=4))
    assert not [w for w in p.warnings if "serving.slo" in w]


def test_an_itl_below_the_predicted_one_is_named_with_both_figures() -> None:
    p = plan(spec(itl_ms=5, ttft_ms=20_000, concurrency=4))
    (warning,) = [w for w in p.warnings if "serving.slo.itl_p95_ms" in w]
    assert "5 is broken" in warning and f"{p.performance.itl_ms:.1f} ms" in warning


def test_the_ttft_limit_is_judged_at_the_target_concurrency() -> None:
    idle_ttft = plan(spec(itl_ms=500, ttft_ms=20_000, concurrency=1)).performance.ttft_ms
    p = plan(spec(itl_ms=500, ttft_ms=idle_ttft * 1.05, concurrency=1))
    assert not [w for w in p.warnings if "ttft_p95_ms" in w]
    busy = plan(spec(itl_ms=500, ttft_ms=idle_ttft * 1.05, concurrency=64))
    assert [w for w in busy.warnings if "serving.slo.ttft_p95_ms" in w]
