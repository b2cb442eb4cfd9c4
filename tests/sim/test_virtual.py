"""Virtual time: traces, Poisson traffic, replay reports, and fast-forward equal to stepping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.errors import UsageError
from kubellm.sim.config import SimConfig
from kubellm.sim.stats import weighted_percentile
from kubellm.sim.timing import LinearStepTimer
from kubellm.sim.trace import TraceRequest, load_trace, poisson_trace
from kubellm.sim.virtual import replay
from kubellm.spec.bench import percentile

CONFIG = SimConfig("m", max_model_len=4096, max_num_seqs=32, max_num_batched_tokens=1024, kv_blocks=600)
TIMER = LinearStepTimer(
    overhead_ms=5.0, per_seq_ms=0.1, per_context_token_ms=0.0002, per_prefill_token_ms=0.02
)


def test_poisson_trace_is_seeded_and_near_its_rate() -> None:
    a = poisson_trace(5, 200, seed=3)
    assert a == poisson_trace(5, 200, seed=3)
    assert a != poisson_trace(5, 200, seed=4)
    assert 850 < len(a) < 1150
    assert all(0 <= r.arrival_s < 200 for r in a)


def test_fast_forward_gives_the_same_report_as_stepping() -> None:
    trace = poisson_trace(4, 60, 300, 120, seed=1, length_spread=0.5)
    fast = replay(CONFIG, TIMER, trace).summary()
    slow = replay(CONFIG, TIMER, trace, fast_forward=False).summary()
    assert fast["fast_forward_steps"] > 0 and slow["fast_forward_steps"] == 0
    assert fast["steps"] == slow["steps"]
    assert fast["output_tokens"] == slow["output_tokens"]
    for key in ("ttft_ms", "tpot_ms", "e2e_ms"):
        assert fast[key]["p99"] == pytest.approx(slow[key]["p99"], rel=1e-6)
    assert fast["itl_ms"]["mean"] == pytest.approx(slow["itl_ms"]["mean"], rel=1e-6)


def test_overload_queues_requests_and_raises_ttft() -> None:
    light = replay(CONFIG, TIMER, poisson_trace(1, 60, 300, 100, seed=2)).summary()
    heavy = replay(CONFIG, TIMER, poisson_trace(40, 60, 300, 100, seed=2)).summary()
    assert heavy["peak_waiting"] > 0 and light["peak_waiting"] <= 1
    assert heavy["ttft_ms"]["p95"] > 10 * light["ttft_ms"]["p95"]
    assert light["peak_running"] < heavy["peak_running"] <= CONFIG.max_num_seqs
    assert heavy["peak_kv_usage"] > 0.8 > light["peak_kv_usage"]


def test_kv_exhaustion_preempts_and_fast_forward_still_matches_stepping() -> None:
    tight = SimConfig("m", max_model_len=2048, max_num_seqs=64, max_num_batched_tokens=2048, kv_blocks=200)
    trace = [
        TraceRequest(0.0, 100, 1500),
        *(TraceRequest(0.01 * i, 100, 400, prefix="sys", prefix_tokens=64) for i in range(1, 12)),
    ]
    summary = replay(tight, TIMER, trace).summary()
    stepped = replay(tight, TIMER, trace, fast_forward=False).summary()
    assert summary["preemptions"] > 0
    assert summary["completed"] == 12
    assert summary["fast_forward_steps"] > 0
    for key in ("preemptions", "steps", "output_tokens", "prefix_cached_tokens"):
        assert summary[key] == stepped[key]
    assert summary["e2e_ms"]["p99"] == pytest.approx(stepped["e2e_ms"]["p99"], rel=1e-6)


def test_shared_prefixes_hit_the_cache() -> None:
    trace = [TraceRequest(i * 1.0, 512, 8, prefix="system", prefix_tokens=480) for i in range(5)]
    summary = replay(CONFIG, TIMER, trace).summary()
    assert summary["prefix_cached_tokens"] == 4 * 480


def test_itl_median_is_the_step_time_at_batch_one() -> None:
    summary = replay(CONFIG, TIMER, [TraceRequest(0.0, 64, 50)]).summary()
    expected_ms = TIMER.step_ms(0, 1, 64 + 25)
    assert summary["itl_ms"]["p50"] == pytest.approx(expected_ms, rel=0.01)
    assert summary["itl_ms"]["count"] == 49


def test_load_trace_reads_jsonl_and_csv_with_aliases(tmp_path: Path) -> None:
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(
        json.dumps({"timestamp": 2.0, "input_length": 10, "output_length": 5})
        + "\n"
        + json.dumps({"arrival_s": 1, "prompt_tokens": 3, "output_tokens": 4})
        + "\n"
    )
    assert [r.arrival_s for r in load_trace(jsonl)] == [1.0, 2.0]
    csv = tmp_path / "t.csv"
    csv.write_text("arrival_s,prompt_tokens,output_tokens,prefix,prefix_tokens\n0.5,100,20,sys,64\n")
    assert load_trace(csv) == [TraceRequest(0.5, 100, 20, "sys", 64)]


def test_load_trace_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"arrival_s": 0, "prompt_tokens": 5, "output_tokens": 1}\n{"arrival_s": 1, "prompt_tokens": 5}\n'
    )
    with pytest.raises(UsageError, match=r"bad.jsonl:2: missing 'output_tokens'"):
        load_trace(bad)


@given(
    st.lists(st.tuples(st.floats(0, 100), st.integers(1, 5)), min_size=1, max_size=30),
    st.sampled_from([0.0, 50.0, 90.0, 95.0, 99.0, 100.0]),
)
def test_weighted_percentile_equals_the_expanded_sample(pairs: list[tuple[float, int]], q: float) -> None:
    expanded = [v for v, w in pairs for _ in range(w)]
    got = weighted_percentile([v for v, _ in pairs], [w for _, w in pairs], q)
    assert got == pytest.approx(percentile(expanded, q), abs=1e-9)


def test_closed_loop_keeps_exactly_the_concurrency_in_flight() -> None:
    templates = [TraceRequest(0.0, 100, 30) for _ in range(20)]
    report = replay(CONFIG, TIMER, templates, concurrency=4, sample_every_s=0.001)
    summary = report.summary()
    assert summary["completed"] == 20
    assert {s.running + s.waiting for s in report.samples} == {4}
    starts = sorted(r.arrival_s for r in report.requests)
    assert starts[:4] == [0.0] * 4 and starts[4] > 0


def test_replay_is_deterministic() -> None:
    trace = poisson_trace(8, 30, 400, 80, seed=5, length_spread=0.8)
    a = replay(CONFIG, TIMER, trace).summary()
    b = replay(CONFIG, TIMER, trace).summary()
    a.pop("simulation_wall_s"), a.pop("simulation_cpu_s")
    b.pop("simulation_wall_s"), b.pop("simulation_cpu_s")
    assert a == b


def test_a_budget_used_up_at_a_request_boundary_still_admits_the_queue_next_step() -> None:
    """8 × 1,024-token prompts, 2,048-token budget, closed loop: the budget ends exactly at a request
    boundary, and the next (decode) steps must admit the waiting prompts, not fast-forward past them."""
    config = SimConfig(
        "m",
        max_model_len=4096,
        max_num_seqs=256,
        max_num_batched_tokens=2048,
        kv_blocks=4096,
        prefix_caching=False,
    )
    timer = LinearStepTimer(
        overhead_ms=10.0, per_seq_ms=0.0, per_context_token_ms=0.0, per_prefill_token_ms=0.1
    )
    trace = [TraceRequest(0.0, 1024, 128) for _ in range(8)]
    fast = replay(config, timer, trace, concurrency=8)
    slow = replay(config, timer, trace, concurrency=8, fast_forward=False)
    every_prompt_started = max(r.first_token_s or 0.0 for r in fast.requests)
    first_answer_done = min(r.finish_s or 0.0 for r in fast.requests)
    assert every_prompt_started < first_answer_done
    a, b = fast.summary(), slow.summary()
    assert a["steps"] == b["steps"]
    assert a["duration_s"] == pytest.approx(b["duration_s"], rel=1e-9)
    assert a["ttft_ms"]["p99"] == pytest.approx(b["ttft_ms"]["p99"], rel=1e-9)
    # 4 prefill steps of 2,048 tokens (≈ 0.2 s each, decodes riding along), then 128 decode steps of 10 ms
    assert a["duration_s"] < 1.1 + 128 * 0.0105
