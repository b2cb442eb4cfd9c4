"""The metric definitions of kubellm.spec.bench (shared with the simulator)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.bench.summary import RequestRecord, summarize_point
from kubellm.spec.bench import (
    SloTarget,
    TokenSource,
    e2e_s,
    histogram_ms,
    itl_gaps_s,
    latency_stats_ms,
    percentile,
    stats_from_histogram,
    tpot_s,
    ttft_s,
)


@given(
    st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50),
    st.floats(min_value=0, max_value=100),
)
def test_percentile_matches_numpy_linear(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_percentile_of_nothing_is_nan_and_q_is_checked() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_per_request_definitions() -> None:
    times = [0.100, 0.110, 0.125]
    assert ttft_s(0.0, times) == pytest.approx(0.100)
    assert ttft_s(0.0, []) is None
    assert e2e_s(0.0, times, end_s=0.2) == pytest.approx(0.125)
    assert e2e_s(0.0, [], end_s=0.2) == pytest.approx(0.2)
    assert itl_gaps_s(times) == pytest.approx([0.010, 0.015])
    assert tpot_s(0.125, 0.100, 3) == pytest.approx(0.0125)
    assert tpot_s(0.1, 0.1, 1) is None


def test_tpot_and_itl_differ_when_chunks_carry_several_tokens() -> None:
    # 2 chunks, 5 tokens: ITL is the one chunk gap, TPOT spreads decode over 4 tokens.
    rec = RequestRecord(start_s=0, sent_s=0, end_s=0.3, content_times_s=[0.1, 0.3], output_tokens=5)
    point = summarize_point([rec], 0, 1, concurrency=1)
    assert point.itl_ms.p50 == pytest.approx(200)
    assert point.tpot_ms.p50 == pytest.approx(50)


def test_in_flight_is_the_time_average_over_the_window() -> None:
    recs = [
        RequestRecord(start_s=0.0, sent_s=0.0, end_s=1.0, content_times_s=[0.5], output_tokens=1),
        RequestRecord(start_s=0.5, sent_s=0.5, end_s=2.0, content_times_s=[1.0], output_tokens=1),
    ]
    point = summarize_point(recs, 0.0, 1.0, concurrency=2)
    assert point.in_flight == pytest.approx(1.5)
    assert point.requests == 2  # both started in the window
    assert point.requests_per_s == pytest.approx(1.0)  # only one completed inside it


def test_errors_are_counted_by_type_and_miss_goodput() -> None:
    ok = RequestRecord(
        start_s=0,
        sent_s=0,
        end_s=0.2,
        content_times_s=[0.05, 0.1],
        output_tokens=2,
        token_source=TokenSource.USAGE,
    )
    slow = RequestRecord(
        start_s=0,
        sent_s=0,
        end_s=0.9,
        content_times_s=[0.8, 0.9],
        output_tokens=2,
        token_source=TokenSource.USAGE,
    )
    bad = RequestRecord(start_s=0, sent_s=0, end_s=0.1, error="http_503", error_message="HTTP 503: busy")
    point = summarize_point([ok, slow, bad], 0, 1, [SloTarget(metric="ttft", limit_ms=100)], concurrency=3)
    assert point.errors == {"http_503": 1}
    assert point.error_samples == ["HTTP 503: busy"]
    assert point.goodput is not None
    assert point.goodput.good_requests == 1 and point.goodput.fraction == pytest.approx(1 / 3, abs=1e-4)
    assert point.slo_met is False
    assert point.token_source == TokenSource.USAGE


def test_schedule_lag_is_reported_in_open_loop_only() -> None:
    rec = RequestRecord(start_s=0.0, sent_s=0.004, end_s=0.1, content_times_s=[0.05], output_tokens=1)
    assert summarize_point([rec], 0, 1, rate=1.0).schedule_lag_ms.p50 == pytest.approx(4.0)  # type: ignore[union-attr]
    assert summarize_point([rec], 0, 1, concurrency=1).schedule_lag_ms is None


def test_histogram_percentiles_are_within_one_percent() -> None:
    values = [0.001 * (1 + i % 97) * (1 + i % 7) for i in range(2000)]
    exact = latency_stats_ms(values)
    approx = stats_from_histogram(histogram_ms(values), exact.mean)
    for name in ("p50", "p90", "p95", "p99"):
        assert getattr(approx, name) == pytest.approx(getattr(exact, name), rel=0.011)


def test_throughput_counts_what_arrived_inside_the_window() -> None:
    # Started during warm-up (before 1.0), finished inside the window: its completion and the two of
    # its four chunks that arrived after 1.0 count towards throughput, but not its latencies.
    warm = RequestRecord(
        start_s=0.5, sent_s=0.5, end_s=1.2, content_times_s=[0.8, 0.9, 1.1, 1.2], output_tokens=8
    )
    inside = RequestRecord(start_s=1.0, sent_s=1.0, end_s=1.5, content_times_s=[1.4, 1.5], output_tokens=2)
    point = summarize_point([warm, inside], 1.0, 2.0, concurrency=2)
    assert point.requests == 1 and point.ttft_ms.p50 == pytest.approx(400)
    assert point.requests_per_s == pytest.approx(2.0)
    assert point.output_tokens_per_s == pytest.approx(2 * 8 / 4 + 2)
