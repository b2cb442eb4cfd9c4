"""--traffic and --slo as people write them, and the seeded traces they become."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.errors import UsageError
from kubellm.sizing.slo import judge, parse_slo
from kubellm.sizing.traffic import MAX_REQUESTS, MIN_REQUESTS, Traffic, build_trace, parse_traffic
from kubellm.spec.metrics import LatencyStats
from kubellm.spec.service import Slo


def test_rate_with_spread_lengths() -> None:
    t = parse_traffic("rate=20, prompt=2048±512, output=300+-50")
    assert (t.rate, t.concurrency) == (20.0, None)
    assert (t.prompt_tokens, t.prompt_spread, t.output_tokens, t.output_spread) == (2048, 512, 300, 50)
    assert t.longest_request == 2048 + 512 + 300 + 50


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("prompt=2048", "rate=R or concurrency=N"),
        ("rate=2,concurrency=4", "exclude each other"),
        ("rate=-1", "above 0"),
        ("rate=2,prompt=abc", "prompt=2048±512"),
        ("rate=2,prompt=100±100", "spread below it"),
        ("speed=3", "KEY=VALUE"),
        ("trace=/no/such/file.jsonl", "no such file"),
    ],
)
def test_bad_traffic_says_what_to_write(text: str, fix: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_traffic(text)
    assert fix in str(err.value) or fix in (err.value.fix or "")


@given(st.integers(1, 5000), st.integers(0, 4999), st.integers(0, 10_000))
def test_spread_lengths_stay_within_their_bounds(mean: int, spread: int, seed: int) -> None:
    spread = min(spread, mean - 1)
    traffic = Traffic(concurrency=2, prompt_tokens=mean, prompt_spread=spread, output_tokens=8, requests=50)
    trace, concurrency = build_trace(traffic, seed)
    assert concurrency == 2 and len(trace) == 50
    assert all(mean - spread <= r.prompt_tokens <= mean + spread for r in trace)
    assert trace == build_trace(traffic, seed)[0]


def test_open_loop_traces_are_poisson_at_the_rate_and_long_enough() -> None:
    trace, concurrency = build_trace(parse_traffic("rate=20,prompt=100,output=10"), seed=1)
    assert concurrency is None and MIN_REQUESTS <= len(trace) <= MAX_REQUESTS
    span = trace[-1].arrival_s - trace[0].arrival_s
    assert len(trace) / span == pytest.approx(20, rel=0.15)


def test_a_trace_file_is_replayed_as_recorded(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"arrival_s": 0.5, "prompt_tokens": 10, "output_tokens": 3}\n{"arrival_s": 0.1, "input_length": 7, "output_length": 2}\n'
    )
    trace, concurrency = build_trace(parse_traffic(f"trace={path}"))
    assert concurrency is None
    assert [(r.arrival_s, r.prompt_tokens) for r in trace] == [(0.1, 7), (0.5, 10)]


def test_slo_uses_the_spec_field_names_and_keeps_the_rest() -> None:
    assert parse_slo("itl_p95_ms=40", Slo(ttft_p95_ms=700)) == Slo(ttft_p95_ms=700, itl_p95_ms=40)
    with pytest.raises(UsageError):
        parse_slo("ttft_p99_ms=3")
    with pytest.raises(UsageError):
        parse_slo("")


def test_judge_names_each_broken_objective_with_figure_and_limit() -> None:
    slo = Slo(ttft_p95_ms=1000, itl_p95_ms=50)
    verdict = judge(slo, LatencyStats(p95=900.0), LatencyStats(p95=71.2))
    assert not verdict.meets and verdict.broken == ("ITL p95 71 ms > 50",)
    assert verdict.worst_ratio == pytest.approx(71.2 / 50)
    assert judge(slo, LatencyStats(p95=1000.0), LatencyStats(p95=50.0)).meets  # the limit itself meets
