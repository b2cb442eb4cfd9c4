"""The latency-metric definitions, written down once (results contract: ``kubellm.spec.bench``).

``kubellm bench`` measures a server in real time; the simulator reports the same metrics in virtual
time. Both import the pure functions below, so a TTFT means the same thing everywhere:

- **TTFT** (time to first token): from the request's start to the first chunk that carries non-empty
  content (a role-only or empty first chunk does not count). In open-loop runs the start is the
  *scheduled* arrival time, so client lag is never hidden (no coordinated omission).
- **E2E**: from the start to the last content chunk (or to the end of the response when it carried none).
- **TPOT** (time per output token, first token excluded): ``(E2E − TTFT) / (output tokens − 1)``,
  one value per request; requests with fewer than two output tokens have none.
- **ITL** (inter-token latency): every gap between consecutive content chunks, pooled over all
  requests. With one token per chunk ITL and TPOT agree; with multi-token chunks they do not (see
  research/bench_perf.md §A.1 for how other tools name these).
- Output tokens come from the server's ``usage`` when it sends one, else from a local tokenizer,
  else from the number of content chunks; every point says which (``token_source``).
- Percentiles interpolate linearly between closest ranks (numpy's default "linear" method).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Literal

from pydantic import Field

from kubellm.spec.base import StrictModel

# Relative width of one latency histogram bucket: percentiles read from merged histograms are within 1 %.
HISTOGRAM_GROWTH = 1.01

LatencyMetric = Literal["ttft", "tpot", "itl", "e2e"]
StatName = Literal["mean", "p50", "p90", "p95", "p99"]


class TokenSource(StrEnum):
    """Where the output token counts of a point came from."""

    USAGE = "usage"
    TOKENIZER = "tokenizer"
    CHUNKS = "chunks"
    MIXED = "mixed"
    NONE = "none"


# --------------------------------------------------------------------------------------------------
# Pure metric functions (shared with the simulator)
# --------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values`` by linear interpolation between closest ranks.

    Matches ``numpy.percentile(values, q)`` (method "linear"). An empty sequence gives ``nan``.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    n = len(values)
    if n == 0:
        return math.nan
    ordered = sorted(values)
    rank = (n - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, n - 1)
    frac = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * frac)


def ttft_s(start_s: float, content_times_s: Sequence[float]) -> float | None:
    """Time to first token: first non-empty content chunk minus the start; None without content."""
    return content_times_s[0] - start_s if content_times_s else None


def e2e_s(start_s: float, content_times_s: Sequence[float], end_s: float) -> float:
    """End-to-end latency: last content chunk minus the start (response end when no content came)."""
    return (content_times_s[-1] if content_times_s else end_s) - start_s


def tpot_s(e2e: float, ttft: float | None, output_tokens: int) -> float | None:
    """Time per output token after the first: ``(E2E − TTFT) / (output tokens − 1)``; None below 2 tokens."""
    if ttft is None or output_tokens < 2:
        return None
    return (e2e - ttft) / (output_tokens - 1)


def itl_gaps_s(content_times_s: Sequence[float]) -> list[float]:
    """Inter-token latencies of one request: every gap between consecutive content chunks."""
    return [content_times_s[i] - content_times_s[i - 1] for i in range(1, len(content_times_s))]


def histogram_bucket(value_ms: float) -> int:
    """Log-bucket index of a latency (1 % wide buckets); values ≤ 1 µs share bucket -1."""
    if value_ms <= 0.001:
        return -1
    return math.floor(math.log(value_ms / 0.001) / math.log(HISTOGRAM_GROWTH))


def bucket_value_ms(bucket: int) -> float:
    """Representative latency (geometric middle) of a histogram bucket."""
    if bucket < 0:
        return 0.0
    return float(0.001 * HISTOGRAM_GROWTH ** (bucket + 0.5))


# --------------------------------------------------------------------------------------------------
# Results models
# --------------------------------------------------------------------------------------------------


class LatencyStats(StrictModel):
    """Summary of one latency distribution, milliseconds (``null`` when there were no samples)."""

    mean: float | None = Field(default=None, description="Arithmetic mean, ms.")
    p50: float | None = Field(default=None, description="Median, ms.")
    p90: float | None = Field(default=None, description="90th percentile, ms.")
    p95: float | None = Field(default=None, description="95th percentile, ms.")
    p99: float | None = Field(default=None, description="99th percentile, ms.")
    count: int = Field(default=0, ge=0, description="Number of samples the statistics were computed from.")

    def stat(self, name: StatName) -> float | None:
        """The named statistic (mean, p50, p90, p95, p99)."""
        value: float | None = getattr(self, name)
        return value


def latency_stats_ms(values_s: Sequence[float]) -> LatencyStats:
    """LatencyStats (in ms) of samples given in seconds."""
    if not values_s:
        return LatencyStats()
    ordered = sorted(values_s)
    ms = [v * 1000.0 for v in ordered]
    return LatencyStats(
        mean=round(math.fsum(ms) / len(ms), 4),
        p50=round(percentile(ms, 50), 4),
        p90=round(percentile(ms, 90), 4),
        p95=round(percentile(ms, 95), 4),
        p99=round(percentile(ms, 99), 4),
        count=len(ms),
    )


def histogram_ms(values_s: Iterable[float]) -> dict[int, int]:
    """Log-bucketed counts of samples given in seconds (mergeable across pods)."""
    counts: dict[int, int] = {}
    for v in values_s:
        b = histogram_bucket(v * 1000.0)
        counts[b] = counts.get(b, 0) + 1
    return counts


def stats_from_histogram(hist: dict[int, int], mean_ms: float | None) -> LatencyStats:
    """LatencyStats read from a histogram, interpolating like ``percentile`` between bucket values
    (so within one bucket, 1 %, of the exact figures); the mean is given."""
    total = sum(hist.values())
    if total == 0:
        return LatencyStats()
    ordered = sorted(hist.items())

    def value_at(index: int) -> float:
        seen = 0
        for bucket, count in ordered:
            seen += count
            if index < seen:
                return bucket_value_ms(bucket)
        return bucket_value_ms(ordered[-1][0])

    def at(q: float) -> float:
        rank = (total - 1) * q / 100.0
        low = math.floor(rank)
        lo, hi = value_at(low), value_at(min(low + 1, total - 1))
        return round(lo + (hi - lo) * (rank - low), 4)

    return LatencyStats(mean=mean_ms, p50=at(50), p90=at(90), p95=at(95), p99=at(99), count=total)
