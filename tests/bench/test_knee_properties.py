"""Properties of the knee (hypothesis): whatever the curve, the knee is a measured level, never above
where throughput stopped rising or the SLO broke, independent of point order, and a stricter SLO
never raises it."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.bench.knee import AUTOSCALE_HEADROOM, find_knee, step_elasticity
from kubellm.spec.bench import BenchPoint, LatencyStats, SloTarget


def _point(load: int, tok_s: float, ttft_p95: float, e2e_p50: float) -> BenchPoint:
    return BenchPoint(
        concurrency=load,
        duration_s=10,
        requests=100,
        in_flight=float(load),
        requests_per_s=tok_s / 100,
        output_tokens_per_s=tok_s,
        total_tokens_per_s=tok_s * 2,
        ttft_ms=LatencyStats(p50=ttft_p95 / 2, p95=ttft_p95, count=100),
        tpot_ms=LatencyStats(),
        itl_ms=LatencyStats(p95=20, count=100),
        e2e_ms=LatencyStats(p50=e2e_p50, count=100),
        token_source="usage",
    )


@st.composite
def curves(draw: st.DrawFn) -> list[BenchPoint]:
    """Concurrency doubling from 1; throughput and latency each never fall (real curves' shape)."""
    n = draw(st.integers(2, 8))
    gains = draw(st.lists(st.floats(0.0, 1.2), min_size=n, max_size=n))
    rises = draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n))
    points, tok, lat = [], 100.0, 50.0
    for k in range(n):
        points.append(_point(2**k, tok, lat, lat * 10))
        tok *= 1 + gains[k]
        lat *= 1 + rises[k]
    return points


SLOS = st.floats(40.0, 5000.0).map(lambda ms: [SloTarget(metric="ttft", stat="p95", limit_ms=ms)])


@settings(max_examples=150, deadline=None)
@given(curves(), st.one_of(st.just([]), SLOS))
def test_the_knee_is_a_measured_level_at_or_below_both_limits(
    points: list[BenchPoint], slo: list[SloTarget]
) -> None:
    knee = find_knee(points, slo)
    assert knee is not None
    loads = [p.load for p in points]
    if knee.knee_load is None:
        assert slo and knee.recommended_max_concurrency is None
        assert points[0].ttft_ms.p95 > slo[0].limit_ms  # only when even the lightest level broke the SLO
        return
    assert knee.knee_load in loads
    for limit in (knee.saturation_load, knee.slo_max_load):
        if limit is not None:
            assert knee.knee_load <= limit
    if knee.slo_max_load is not None:  # every level up to the SLO limit met it, the next did not
        assert all(p.ttft_ms.p95 <= slo[0].limit_ms for p in points if p.load <= knee.slo_max_load)
    assert knee.recommended_max_concurrency == int(knee.knee_load)
    assert knee.autoscaling_target == max(1.0, round(AUTOSCALE_HEADROOM * knee.knee_load, 1))
    assert knee.autoscaling_target <= knee.recommended_max_concurrency or knee.knee_load == 1


@settings(max_examples=100, deadline=None)
@given(curves(), st.randoms(use_true_random=False))
def test_the_knee_does_not_depend_on_point_order(points: list[BenchPoint], rnd: random.Random) -> None:
    shuffled = list(points)
    rnd.shuffle(shuffled)
    assert find_knee(shuffled) == find_knee(points)


@settings(max_examples=100, deadline=None)
@given(curves(), st.floats(40.0, 5000.0), st.floats(0.1, 1.0))
def test_a_stricter_slo_never_raises_the_knee(points: list[BenchPoint], max_ms: float, factor: float) -> None:
    loose = find_knee(points, [SloTarget(metric="ttft", stat="p95", limit_ms=max_ms)])
    strict = find_knee(points, [SloTarget(metric="ttft", stat="p95", limit_ms=max_ms * factor)])
    assert loose is not None and strict is not None
    if strict.knee_load is not None:
        assert loose.knee_load is not None and strict.knee_load <= loose.knee_load


@settings(max_examples=100, deadline=None)
@given(curves())
def test_saturation_is_the_first_step_that_stops_buying_throughput(points: list[BenchPoint]) -> None:
    knee = find_knee(points)
    assert knee is not None
    steps = list(itertools.pairwise(points))
    plateau = [
        b.load
        for b, a in steps
        if step_elasticity(b, a) < 0.10 and a.e2e_ms.p50 > b.e2e_ms.p50  # type: ignore[operator]
    ]
    assert knee.saturation_load == (plateau[0] if plateau else None)
    assert knee.knee_load == (plateau[0] if plateau else points[-1].load)
