"""Latency statistics in the benchmark's definitions (``kubellm.spec.bench``), plus weighted samples.

Plain samples go through :func:`kubellm.spec.bench.latency_stats_ms`, so a simulated p95 means what
``kubellm bench`` means by it. Virtual time records a run of identical decode gaps as one value with a
weight; :func:`weighted_latency_stats_ms` gives the statistics of the expanded sample without
expanding it.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

from kubellm.spec.bench import LatencyStats, latency_stats_ms

__all__ = ["LatencyStats", "latency_stats_ms", "weighted_latency_stats_ms", "weighted_percentile"]


def weighted_percentile(values: Sequence[float], weights: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of a sample where ``values[i]`` occurs ``weights[i]`` times, by the
    same linear interpolation between closest ranks as :func:`kubellm.spec.bench.percentile`."""
    if not values:
        return math.nan
    pairs = sorted(zip(values, weights, strict=True))
    ordered = [v for v, _ in pairs]
    cum = list(itertools.accumulate(w for _, w in pairs))
    total = cum[-1]
    rank = (total - 1) * q / 100.0  # 0-based rank in the expanded, sorted sample
    low = math.floor(rank)
    i_low = bisect.bisect_left(cum, low + 1)
    i_high = bisect.bisect_left(cum, min(low + 2, total))
    return float(ordered[i_low] + (ordered[i_high] - ordered[i_low]) * (rank - low))


def weighted_latency_stats_ms(values_s: Sequence[float], weights: Sequence[float]) -> LatencyStats:
    """LatencyStats (ms) of weighted samples given in seconds."""
    if not values_s:
        return LatencyStats()
    ms = [v * 1000.0 for v in values_s]
    total = float(sum(weights))
    mean = math.fsum(v * w for v, w in zip(ms, weights, strict=True)) / total
    return LatencyStats(
        mean=round(mean, 4),
        p50=round(weighted_percentile(ms, weights, 50), 4),
        p90=round(weighted_percentile(ms, weights, 90), 4),
        p95=round(weighted_percentile(ms, weights, 95), 4),
        p99=round(weighted_percentile(ms, weights, 99), 4),
        count=round(total),
    )
