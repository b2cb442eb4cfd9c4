"""From per-request records to a BenchPoint: the load generator's summary of one load level.

Bench-only: the contract it fills (``BenchPoint``, ``SloTarget``) and the metric definitions it applies
(``ttft_s``, ``tpot_s``, …) live in ``kubellm.spec``; this module only counts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kubellm.spec.bench import BenchPoint, Goodput, SloTarget, point_meets_slo
from kubellm.spec.metrics import (
    LatencyMetric,
    TokenSource,
    e2e_s,
    histogram_ms,
    itl_gaps_s,
    latency_stats_ms,
    tpot_s,
    ttft_s,
)


@dataclass(slots=True)
class RequestRecord:
    """Raw timings of one request, seconds on one monotonic clock."""

    start_s: float
    sent_s: float
    end_s: float = 0.0
    headers_s: float = 0.0  # when the response headers arrived (0: never)
    content_times_s: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    token_source: TokenSource = TokenSource.CHUNKS
    error: str | None = None
    error_message: str = ""


def _slo_value(
    metric: LatencyMetric, ttft: float | None, tpot: float | None, itl_max: float | None, e2e: float
) -> float | None:
    if metric == "ttft":
        return ttft
    if metric == "tpot":
        return tpot
    if metric == "itl":
        return itl_max
    return e2e


def summarize_point(
    records: Sequence[RequestRecord],
    window_start_s: float,
    window_end_s: float,
    slo: Sequence[SloTarget] = (),
    *,
    concurrency: int | None = None,
    rate: float | None = None,
    arrival: Literal["poisson", "constant"] | None = None,
    max_error_samples: int = 5,
) -> BenchPoint:
    """Reduce the records of one load level to a BenchPoint.

    Latencies cover requests that started inside ``[window_start_s, window_end_s]`` (including those
    that finished after it). Throughput counts what arrived inside the window, whichever request it
    belonged to: completions (requests/s), output tokens by the arrival time of their chunks, prompt
    tokens at their request's first token. ``in_flight`` is the time average of overlapping requests.
    """
    span = max(window_end_s - window_start_s, 1e-9)
    ttfts: list[float] = []
    tpots: list[float] = []
    itls: list[float] = []
    e2es: list[float] = []
    lags: list[float] = []
    errors: dict[str, int] = {}
    samples: list[str] = []
    busy = 0.0
    done_in_window = 0
    out_in_window = 0.0
    prompt_in_window = 0
    in_tok: list[int] = []
    out_tok: list[int] = []
    sources: set[TokenSource] = set()
    good = 0
    attempts = 0
    for r in records:
        end = r.end_s if r.end_s else window_end_s
        busy += max(0.0, min(end, window_end_s) - max(r.start_s, window_start_s))
        if r.error is None:
            # Throughput counts what arrived inside the window, whenever the request started
            # (warm-up requests included): completions, output tokens by the arrival of their
            # chunks, prompt tokens when their first token arrived.
            if window_start_s <= r.end_s <= window_end_s:
                done_in_window += 1
            if r.content_times_s:
                n = r.output_tokens if r.output_tokens is not None else len(r.content_times_s)
                inside = bisect_right(r.content_times_s, window_end_s) - bisect_left(
                    r.content_times_s, window_start_s
                )
                out_in_window += inside * n / len(r.content_times_s)
                if window_start_s <= r.content_times_s[0] <= window_end_s:
                    prompt_in_window += r.prompt_tokens or 0
        if not window_start_s <= r.start_s <= window_end_s:
            continue
        attempts += 1
        if rate is not None:
            lags.append(max(0.0, r.sent_s - r.start_s))
        if r.error is not None:
            errors[r.error] = errors.get(r.error, 0) + 1
            if len(samples) < max_error_samples and r.error_message not in samples:
                samples.append(r.error_message)
            continue
        ttft = ttft_s(r.start_s, r.content_times_s)
        e2e = e2e_s(r.start_s, r.content_times_s, r.end_s)
        n_out = r.output_tokens if r.output_tokens is not None else len(r.content_times_s)
        tpot = tpot_s(e2e, ttft, n_out)
        gaps = itl_gaps_s(r.content_times_s)
        if ttft is not None:
            ttfts.append(ttft)
        if tpot is not None:
            tpots.append(tpot)
        itls.extend(gaps)
        e2es.append(e2e)
        sources.add(r.token_source)
        out_tok.append(n_out)
        if r.prompt_tokens is not None:
            in_tok.append(r.prompt_tokens)
        if slo:
            itl_max = max(gaps) if gaps else None
            ok = True
            for target in slo:
                value = _slo_value(target.metric, ttft, tpot, itl_max, e2e)
                if value is not None and value * 1000.0 > target.limit_ms:
                    ok = False
                    break
            good += ok
    source = TokenSource.NONE if not sources else sources.pop() if len(sources) == 1 else TokenSource.MIXED
    point = BenchPoint(
        concurrency=concurrency,
        rate=rate,
        arrival=arrival,
        duration_s=round(span, 4),
        requests=len(e2es),
        errors=errors,
        error_samples=samples,
        in_flight=round(busy / span, 3),
        requests_per_s=round(done_in_window / span, 3),
        output_tokens_per_s=round(out_in_window / span, 3),
        total_tokens_per_s=round((out_in_window + prompt_in_window) / span, 3),
        input_tokens_mean=round(sum(in_tok) / len(in_tok), 2) if in_tok else None,
        output_tokens_mean=round(sum(out_tok) / len(out_tok), 2) if out_tok else None,
        ttft_ms=latency_stats_ms(ttfts),
        tpot_ms=latency_stats_ms(tpots),
        itl_ms=latency_stats_ms(itls),
        e2e_ms=latency_stats_ms(e2es),
        token_source=source,
        schedule_lag_ms=latency_stats_ms(lags) if rate is not None else None,
        histograms={
            "ttft": histogram_ms(ttfts),
            "tpot": histogram_ms(tpots),
            "itl": histogram_ms(itls),
            "e2e": histogram_ms(e2es),
        },
    )
    if slo:
        point.goodput = Goodput(
            good_requests=good,
            requests_per_s=round(good / span, 3),
            fraction=round(good / attempts, 4) if attempts else 0.0,
        )
        point.slo_met = point_meets_slo(point, slo)
    return point
