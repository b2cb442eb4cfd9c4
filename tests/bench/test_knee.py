"""Knee detection on synthetic points."""

from __future__ import annotations

from kubellm.bench.knee import find_knee
from kubellm.spec.bench import BenchPoint, LatencyStats, SloTarget


def _point(
    load: float, tok_s: float, ttft_p95: float, e2e_p50: float, *, rate: bool = False, in_flight: float = 0
) -> BenchPoint:
    return BenchPoint(
        concurrency=None if rate else int(load),
        rate=load if rate else None,
        duration_s=10,
        requests=100,
        in_flight=in_flight or load,
        requests_per_s=tok_s / 100,
        output_tokens_per_s=tok_s,
        total_tokens_per_s=tok_s * 2,
        ttft_ms=LatencyStats(p50=ttft_p95 / 2, p95=ttft_p95, count=100),
        tpot_ms=LatencyStats(),
        itl_ms=LatencyStats(p95=20, count=100),
        e2e_ms=LatencyStats(p50=e2e_p50, count=100),
        token_source="usage",
    )


# Throughput doubles up to 16, then barely moves while latency climbs (the NIM 70B shape, research B2).
CURVE = [
    _point(1, 50, 40, 1000),
    _point(2, 100, 42, 1010),
    _point(4, 198, 45, 1030),
    _point(8, 390, 60, 1080),
    _point(16, 760, 120, 1200),
    _point(32, 800, 900, 2400),
    _point(64, 810, 4000, 5000),
]


def test_saturation_is_where_doubling_stops_buying_throughput() -> None:
    knee = find_knee(CURVE)
    assert knee is not None
    assert knee.saturation_load == 16
    assert knee.knee_load == 16
    assert knee.recommended_max_concurrency == 16
    assert knee.autoscaling_target == 12.8
    assert "throughput stopped rising after concurrency 16" in knee.reason


def test_slo_limit_wins_when_it_is_lower() -> None:
    knee = find_knee(CURVE, [SloTarget(metric="ttft", stat="p95", limit_ms=100)])
    assert knee is not None
    assert knee.slo_max_load == 8
    assert knee.knee_load == 8 and knee.recommended_max_concurrency == 8


def test_points_in_any_order_give_the_same_knee() -> None:
    assert find_knee(list(reversed(CURVE))) == find_knee(CURVE)


def test_no_plateau_takes_the_highest_level_and_says_so() -> None:
    knee = find_knee(CURVE[:4])
    assert knee is not None and knee.saturation_load is None
    assert knee.knee_load == 8
    assert "measure higher" in knee.reason


def test_open_loop_knee_uses_the_measured_in_flight() -> None:
    pts = [
        _point(1, 100, 50, 500, rate=True, in_flight=0.6),
        _point(2, 200, 50, 520, rate=True, in_flight=1.3),
        _point(4, 205, 300, 3000, rate=True, in_flight=9.0),
    ]
    knee = find_knee(pts)
    assert knee is not None and knee.mode == "rate"
    assert knee.knee_load == 2 and knee.recommended_max_concurrency == 2


def test_no_slo_met_gives_no_recommendation() -> None:
    knee = find_knee(CURVE, [SloTarget(metric="ttft", stat="p95", limit_ms=1)])
    assert knee is not None and knee.knee_load is None and knee.recommended_max_concurrency is None


def test_no_successful_points_gives_no_knee() -> None:
    assert find_knee([]) is None
