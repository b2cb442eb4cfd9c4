"""The knee at its edges: what throughput and latency it reads, the plateau boundary, the arithmetic of
a step's elasticity, points that carry no requests, and the reasons it gives in each case."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.bench.knee import find_knee, step_elasticity, throughput
from kubellm.spec.bench import BenchPoint, LatencyStats, SloTarget


def _point(
    load: float,
    *,
    tok_s: float = 0.0,
    req_s: float = 1.0,
    e2e_p50: float | None = 1000.0,
    ttft_p50: float | None = 50.0,
    requests: int = 100,
    rate: bool = False,
) -> BenchPoint:
    return BenchPoint(
        concurrency=None if rate else int(load),
        rate=load if rate else None,
        duration_s=10,
        requests=requests,
        in_flight=load,
        requests_per_s=req_s,
        output_tokens_per_s=tok_s,
        total_tokens_per_s=tok_s * 2,
        ttft_ms=LatencyStats(p50=ttft_p50, p95=ttft_p50, count=requests),
        tpot_ms=LatencyStats(),
        itl_ms=LatencyStats(),
        e2e_ms=LatencyStats(p50=e2e_p50, count=requests),
        token_source="usage",
    )


def _reasons(reason: str) -> list[str]:
    return reason.split("; ")


# --- what the knee reads ------------------------------------------------------------------------


def test_throughput_is_output_tokens_whenever_any_were_counted() -> None:
    assert throughput(_point(1, tok_s=0.5, req_s=3.0)) == 0.5
    assert throughput(_point(1, tok_s=800.0, req_s=3.0)) == 800.0


def test_throughput_falls_back_to_requests_when_no_tokens_were_counted() -> None:
    assert throughput(_point(1, tok_s=0.0, req_s=3.0)) == 3.0


def test_without_token_counts_the_plateau_is_found_in_requests_per_second() -> None:
    points = [
        _point(1, req_s=10, e2e_p50=1000),
        _point(2, req_s=20, e2e_p50=1010),
        _point(4, req_s=20.5, e2e_p50=2000),
    ]
    knee = find_knee(points)
    assert knee is not None and knee.saturation_load == 2


def test_token_throughput_decides_even_when_requests_per_second_keep_rising() -> None:
    # Requests get shorter as load rises: requests/s doubles, tokens/s stops — the tokens decide.
    points = [
        _point(1, tok_s=100, req_s=1, e2e_p50=1000),
        _point(2, tok_s=200, req_s=2, e2e_p50=1010),
        _point(4, tok_s=205, req_s=4, e2e_p50=2000),
    ]
    knee = find_knee(points)
    assert knee is not None and knee.saturation_load == 2


def test_latency_is_the_median_end_to_end_time() -> None:
    # Time to first token falls while end-to-end latency rises: the plateau is a saturation.
    points = [
        _point(1, tok_s=100, e2e_p50=1000, ttft_p50=90),
        _point(2, tok_s=200, e2e_p50=1010, ttft_p50=80),
        _point(4, tok_s=205, e2e_p50=2000, ttft_p50=70),
    ]
    knee = find_knee(points)
    assert knee is not None and knee.saturation_load == 2


def test_without_end_to_end_latency_time_to_first_token_stands_in() -> None:
    points = [
        _point(1, tok_s=100, e2e_p50=None, ttft_p50=40),
        _point(2, tok_s=200, e2e_p50=None, ttft_p50=42),
        _point(4, tok_s=205, e2e_p50=None, ttft_p50=400),
    ]
    knee = find_knee(points)
    assert knee is not None and knee.saturation_load == 2


def test_a_plateau_with_latency_flat_is_not_a_saturation() -> None:
    points = [_point(1, tok_s=100), _point(2, tok_s=200), _point(4, tok_s=201)]
    knee = find_knee(points)
    assert knee is not None and knee.saturation_load is None


# --- the plateau boundary and the elasticity arithmetic -------------------------------------------


def test_a_step_adding_exactly_plateau_gain_still_buys_throughput() -> None:
    # Doubling the load adds exactly 10 %: elasticity 0.10, not below the default plateau_gain.
    points = [_point(1, tok_s=100, e2e_p50=1000), _point(2, tok_s=110, e2e_p50=1500)]
    knee = find_knee(points)
    assert knee is not None and knee.saturation_load is None
    below = [_point(1, tok_s=100, e2e_p50=1000), _point(2, tok_s=109, e2e_p50=1500)]
    knee = find_knee(below)
    assert knee is not None and knee.saturation_load == 1


def test_elasticity_is_relative_throughput_gain_over_relative_load_gain() -> None:
    assert step_elasticity(_point(2, tok_s=100), _point(4, tok_s=150)) == pytest.approx(0.5)
    assert step_elasticity(_point(4, tok_s=100), _point(5, tok_s=150)) == pytest.approx(2.0)
    assert step_elasticity(_point(1, tok_s=0.5), _point(2, tok_s=0.75)) == pytest.approx(0.5)


@given(
    load=st.floats(0.1, 1000),
    load_ratio=st.floats(1.01, 100),
    tok=st.floats(0.01, 10_000),
    tok_ratio=st.floats(0.0, 100),
)
def test_elasticity_matches_its_definition(
    load: float, load_ratio: float, tok: float, tok_ratio: float
) -> None:
    before = _point(load, tok_s=tok, req_s=0, rate=True)
    after = _point(load * load_ratio, tok_s=tok * tok_ratio, req_s=0, rate=True)
    expected = (tok_ratio - 1) / (load_ratio - 1)
    assert step_elasticity(before, after) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_no_load_gain_or_no_base_throughput_is_infinitely_elastic() -> None:
    assert step_elasticity(_point(2, tok_s=100), _point(2, tok_s=50)) == math.inf
    assert step_elasticity(_point(1, tok_s=0, req_s=0), _point(2, tok_s=0, req_s=5)) == math.inf


def test_a_step_up_from_no_load_is_an_infinite_load_gain() -> None:
    no_load = _point(1, rate=True).model_copy(update={"rate": None})  # a point with no load recorded
    assert no_load.load == 0
    assert step_elasticity(no_load, _point(2, tok_s=10)) == 0.0


# --- which points count ---------------------------------------------------------------------------


def test_points_without_successful_requests_are_left_out() -> None:
    assert find_knee([_point(4, tok_s=100, requests=0)]) is None
    points = [_point(1, tok_s=100), _point(2, tok_s=200), _point(8, tok_s=1, requests=0, e2e_p50=9000)]
    knee = find_knee(points)
    assert knee is not None and knee.knee_load == 2 and knee.saturation_load is None


def test_a_single_request_is_a_usable_point() -> None:
    knee = find_knee([_point(3, tok_s=10, requests=1)])
    assert knee is not None and knee.knee_load == 3 and knee.mode == "concurrency"


def test_an_open_loop_knee_below_one_request_in_flight_still_recommends_one() -> None:
    point = _point(0.5, tok_s=10, rate=True).model_copy(update={"in_flight": 0.3})
    knee = find_knee([point])
    assert knee is not None and knee.recommended_max_concurrency == 1 and knee.autoscaling_target == 1.0


def test_the_mode_comes_from_the_points() -> None:
    knee = find_knee([_point(0.5, tok_s=10, rate=True)])
    assert knee is not None and knee.mode == "rate"


# --- the reasons ----------------------------------------------------------------------------------


def test_reasons_name_each_finding_in_turn() -> None:
    points = [_point(1, tok_s=100, e2e_p50=1000), _point(2, tok_s=200, e2e_p50=1010)]
    slo = [SloTarget(metric="ttft", stat="p95", limit_ms=1000)]
    knee = find_knee(points, slo)
    assert knee is not None and knee.knee_load == 2
    assert _reasons(knee.reason) == ["every level met the SLO", "throughput never plateaued"]


def test_a_found_plateau_is_not_reported_as_never_plateaued() -> None:
    points = [_point(1, tok_s=100, e2e_p50=1000), _point(2, tok_s=101, e2e_p50=2000)]
    knee = find_knee(points)
    assert knee is not None
    assert "throughput never plateaued" not in knee.reason
    assert knee.reason.startswith("throughput stopped rising after concurrency 1")


def test_when_no_level_meets_the_slo_the_reason_says_nothing_is_recommended() -> None:
    points = [_point(1, tok_s=100, ttft_p50=500), _point(2, tok_s=200, ttft_p50=600)]
    knee = find_knee(points, [SloTarget(metric="ttft", stat="p95", limit_ms=100)])
    assert knee is not None and knee.knee_load is None and knee.mode == "concurrency"
    assert _reasons(knee.reason) == [
        "SLO first broken at concurrency 1",
        "throughput never plateaued",
        "no level met the SLO, so nothing is recommended",
    ]
