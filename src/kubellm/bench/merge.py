"""Combine the results files of several client pods that loaded one service at the same time (pure).

Points are matched by position (each pod ran the same level list). Loads, counts and rates add up;
in-flight counts add up; latency means are weighted by sample count and percentiles are read from the
merged 1 %-bucket histograms, so they are within 1 % of the percentiles of the pooled samples.
Schedule lag has no histogram: the merged point keeps the worst pod's figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubellm.bench.knee import find_knee
from kubellm.errors import UsageError
from kubellm.spec.bench import (
    BenchPoint,
    BenchResults,
    Goodput,
    LatencyStats,
    TokenSource,
    point_meets_slo,
    stats_from_histogram,
)


def _merge_stats(parts: Sequence[BenchPoint], metric: str) -> LatencyStats:
    hist: dict[int, int] = {}
    for p in parts:
        for bucket, count in p.histograms.get(metric, {}).items():
            hist[bucket] = hist.get(bucket, 0) + count
    stats = [getattr(p, f"{metric}_ms") for p in parts]
    count = sum(s.count for s in stats)
    mean = round(sum((s.mean or 0.0) * s.count for s in stats) / count, 4) if count else None
    if not hist and count:
        raise UsageError(
            f"cannot merge {metric}: the results files carry no histograms",
            "merge results.json files written by kubellm bench (they keep the histograms)",
        )
    return stats_from_histogram(hist, mean)


def _worst_lag(parts: Sequence[BenchPoint]) -> LatencyStats | None:
    lags = [p.schedule_lag_ms for p in parts if p.schedule_lag_ms is not None]
    if not lags:
        return None

    def worst(name: str) -> float | None:
        values = [getattr(s, name) for s in lags if getattr(s, name) is not None]
        return max(values) if values else None

    return LatencyStats(
        mean=worst("mean"),
        p50=worst("p50"),
        p90=worst("p90"),
        p95=worst("p95"),
        p99=worst("p99"),
        count=sum(s.count for s in lags),
    )


def merge_points(parts: Sequence[BenchPoint], results: BenchResults) -> BenchPoint:
    """One point from the same level measured by several pods."""
    closed = parts[0].concurrency is not None
    if any((p.concurrency is not None) != closed for p in parts):
        raise UsageError("cannot merge closed-loop with open-loop points", "merge results of the same run")
    errors: dict[str, int] = {}
    for p in parts:
        for kind, n in p.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    requests = sum(p.requests for p in parts)

    def weighted(name: str) -> float | None:
        pairs = [(getattr(p, name), p.requests) for p in parts if getattr(p, name) is not None]
        total = sum(w for _, w in pairs)
        return round(sum(v * w for v, w in pairs) / total, 2) if total else None

    sources = {p.token_source for p in parts}
    histograms: dict[str, dict[int, int]] = {}
    for metric in ("ttft", "tpot", "itl", "e2e"):
        merged: dict[int, int] = {}
        for p in parts:
            for bucket, count in p.histograms.get(metric, {}).items():
                merged[bucket] = merged.get(bucket, 0) + count
        histograms[metric] = merged
    point = BenchPoint(
        concurrency=sum(p.concurrency or 0 for p in parts) if closed else None,
        rate=None if closed else round(sum(p.rate or 0.0 for p in parts), 6),
        arrival=parts[0].arrival,
        duration_s=max(p.duration_s for p in parts),
        requests=requests,
        errors=errors,
        error_samples=[s for p in parts for s in p.error_samples][:5],
        in_flight=round(sum(p.in_flight for p in parts), 3),
        requests_per_s=round(sum(p.requests_per_s for p in parts), 3),
        output_tokens_per_s=round(sum(p.output_tokens_per_s for p in parts), 3),
        total_tokens_per_s=round(sum(p.total_tokens_per_s for p in parts), 3),
        input_tokens_mean=weighted("input_tokens_mean"),
        output_tokens_mean=weighted("output_tokens_mean"),
        ttft_ms=_merge_stats(parts, "ttft"),
        tpot_ms=_merge_stats(parts, "tpot"),
        itl_ms=_merge_stats(parts, "itl"),
        e2e_ms=_merge_stats(parts, "e2e"),
        token_source=sources.pop() if len(sources) == 1 else TokenSource.MIXED,
        schedule_lag_ms=_worst_lag(parts),
        histograms=histograms,
    )
    goodputs = [p.goodput for p in parts if p.goodput is not None]
    slo = results.metadata.config.slo
    if goodputs:
        good = sum(g.good_requests for g in goodputs)
        attempts = requests + point.error_count
        point.goodput = Goodput(
            good_requests=good,
            requests_per_s=round(sum(g.requests_per_s for g in goodputs), 3),
            fraction=round(good / attempts, 4) if attempts else 0.0,
        )
    if slo:
        point.slo_met = point_meets_slo(point, slo)
    return point


def merge_results(files: Sequence[BenchResults]) -> BenchResults:
    """One BenchResults from the results of several pods (levels matched by position)."""
    if not files:
        raise UsageError("nothing to merge", "give two or more results.json files")
    first = files[0]
    levels = min(len(f.points) for f in files)
    if levels < max(len(f.points) for f in files):
        dropped = max(len(f.points) for f in files) - levels
        stop = f"merged the {levels} levels every pod ran ({dropped} more on some pods were left out)"
    else:
        stop = first.stop_reason
    points = [merge_points([f.points[i] for f in files], first) for i in range(levels)]
    meta = first.metadata.model_copy(
        update={
            "pods": sum(f.metadata.pods for f in files),
            "host": ",".join(sorted({f.metadata.host for f in files})),
            "started_at": min(f.metadata.started_at for f in files),
            "finished_at": max((f.metadata.finished_at or "") for f in files) or None,
        }
    )
    aborted = "; ".join(sorted({f.aborted for f in files if f.aborted})) or None
    merged = BenchResults(metadata=meta, points=points, aborted=aborted, stop_reason=stop)
    merged.knee = find_knee(points, first.metadata.config.slo, first.metadata.config.plateau_gain)
    return merged
