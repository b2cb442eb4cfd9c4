"""The knee of the latency–throughput curve, from a list of points (pure).

Two limits are looked for:

- the SLO limit: the highest load level whose point met every SLO, with every lower level meeting them too;
- saturation: the first step after which more load stops buying throughput while latency rises. A step
  "stops buying throughput" when its elasticity — relative throughput gain over relative load gain — is
  below ``plateau_gain`` (with the default 0.10 a doubling of load must add at least 10 % throughput).

The knee is the lower of the two. The recommended per-replica maximum concurrency is the number of
requests in flight there (the concurrency itself in closed loop, the measured mean in open loop), and
the autoscaling target is 80 % of it, so replicas are added before the knee is reached.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from kubellm.spec.bench import BenchPoint, Knee, SloTarget, point_meets_slo

AUTOSCALE_HEADROOM = 0.8


def throughput(point: BenchPoint) -> float:
    """The throughput the knee is judged on: output tokens/s, or requests/s when no tokens were counted."""
    return point.output_tokens_per_s if point.output_tokens_per_s > 0 else point.requests_per_s


def _latency(point: BenchPoint) -> float:
    return point.e2e_ms.p50 or point.ttft_ms.p50 or 0.0


def step_elasticity(before: BenchPoint, after: BenchPoint) -> float:
    """Relative throughput gain divided by relative load gain between two points (inf if load did not rise)."""
    load_gain = (after.load - before.load) / before.load if before.load > 0 else math.inf
    if load_gain <= 0:
        return math.inf
    base = throughput(before)
    gain = (throughput(after) - base) / base if base > 0 else math.inf
    return gain / load_gain


def find_knee(
    points: Sequence[BenchPoint], slo: Sequence[SloTarget] = (), plateau_gain: float = 0.10
) -> Knee | None:
    """The knee of ``points`` (any order; sorted by load here); None when there are no usable points."""
    usable = sorted((p for p in points if p.requests > 0), key=lambda p: p.load)
    if not usable:
        return None
    mode = "concurrency" if usable[0].concurrency is not None else "rate"
    reasons: list[str] = []

    slo_point: BenchPoint | None = None
    if slo:
        for p in usable:
            if not point_meets_slo(p, slo):
                reasons.append(f"SLO first broken at {mode} {p.load:g}")
                break
            slo_point = p
        else:
            reasons.append("every level met the SLO")

    sat_point: BenchPoint | None = None
    for before, after in itertools.pairwise(usable):
        if step_elasticity(before, after) < plateau_gain and _latency(after) > _latency(before):
            sat_point = before
            reasons.append(
                f"throughput stopped rising after {mode} {before.load:g} "
                f"({throughput(before):.0f} → {throughput(after):.0f}/s while latency rose)"
            )
            break
    if sat_point is None:
        reasons.append("throughput never plateaued")

    if slo and slo_point is None:
        return Knee(
            mode=mode, reason="; ".join(reasons) + "; no level met the SLO, so nothing is recommended"
        )
    candidates = [p for p in (slo_point, sat_point) if p is not None]
    knee_point = min(candidates, key=lambda p: p.load) if candidates else None
    if knee_point is None and not slo:
        knee_point = usable[-1]
        reasons.append(
            f"knee taken at the highest level measured ({mode} {knee_point.load:g}); measure higher"
        )
    if knee_point is None:
        return Knee(mode=mode, reason="; ".join(reasons) + "; no level met the SLO")
    if knee_point.concurrency is not None:
        max_conc = knee_point.concurrency
    else:
        max_conc = max(1, math.ceil(knee_point.in_flight))
    return Knee(
        mode=mode,
        slo_max_load=slo_point.load if slo_point else None,
        saturation_load=sat_point.load if sat_point else None,
        knee_load=knee_point.load,
        recommended_max_concurrency=max_conc,
        autoscaling_target=max(1.0, round(AUTOSCALE_HEADROOM * max_conc, 1)),
        reason="; ".join(reasons),
    )
