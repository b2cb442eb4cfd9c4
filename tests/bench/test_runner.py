"""The load generator against a server of exactly known timing."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from kubellm.bench.runner import api_base, load_levels
from kubellm.spec.bench import BenchConfig, TokenSource

from .conftest import ITL_MS, TTFT_MS, run_bench, run_bench_keeping_records

TOKENS = 8


def _close(measured: float | None, truth: float, slack: float = 1.0) -> bool:
    """Within 2 ms or 3 % of the truth (times ``slack``)."""
    assert measured is not None
    return abs(measured - truth) <= slack * max(2.0, 0.03 * truth)


def _server_stats(url: str, method: str = "GET") -> dict[str, float]:
    request = urllib.request.Request(url + "/stats", method=method)
    with urllib.request.urlopen(request, timeout=5) as resp:
        data: dict[str, float] = json.loads(resp.read())
    return data


def test_ttft_and_itl_within_2ms_or_3pct_at_concurrency_32(timed_url: str) -> None:
    # Workers start spread over one request time: a server of fixed timing would otherwise keep all
    # 32 in lockstep, and each wave's last request would wait for the 31 sends before it.
    config = BenchConfig(
        url=timed_url,
        model="fake",
        concurrency=[32],
        duration_s=1.5,
        warmup_s=0.3,
        ramp_up_s=0.12,
        output_tokens=TOKENS,
    )
    _server_stats(timed_url, "POST")
    # Within 2 ms or 3 % on a machine with a core free for each process; when other work oversubscribes
    # the CPUs, either process's reads and writes run late by a scheduler quantum, and only a wider bound
    # is fair (the load is read before and after the run).
    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    results, records = run_bench_keeping_records(config)
    slack = 3.0 if busy or os.getloadavg()[0] > (os.cpu_count() or 1) else 1.0
    truth = _server_stats(timed_url)  # the server's own account of its writes (all requests)
    point = results.points[0]
    assert point.errors == {}
    assert point.in_flight == pytest.approx(32, abs=0.5)
    assert point.token_source == TokenSource.USAGE
    assert point.output_tokens_mean == TOKENS
    # The server stamps TTFT from when its handler started, which is also when it sent the headers.
    # How long the request took to get there (sending, the OS scheduling either process) is known
    # from the headers' arrival, so the client's own measuring error is what remains.
    w0 = min(r.start_s for r in records) + config.warmup_s
    measured = [r for r in records if r.start_s >= w0]
    to_headers_ms = 1000 * sum(r.headers_s - r.start_s for r in measured) / len(measured)
    assert _close(point.ttft_ms.mean, truth["ttft_mean_ms"] + to_headers_ms, slack), (
        point.ttft_ms,
        truth,
        to_headers_ms,
    )
    assert _close(point.itl_ms.mean, truth["itl_mean_ms"], slack), (point.itl_ms, truth)
    assert _close(point.tpot_ms.mean, truth["itl_mean_ms"], slack), (point.tpot_ms, truth)
    # Against the nominal schedule.
    assert _close(point.ttft_ms.p50, TTFT_MS, slack), point.ttft_ms
    assert _close(point.itl_ms.p50, ITL_MS, slack), point.itl_ms


def test_ttft_counts_from_the_first_non_empty_content_chunk(timed_url: str) -> None:
    # `role-first` sends an empty role-only chunk at once, then content after 50 ms.
    config = BenchConfig(url=timed_url, model="role-first", concurrency=[2], requests=6, output_tokens=3)
    point = run_bench(config).points[0]
    assert point.requests == 6
    assert point.ttft_ms.p50 is not None and point.ttft_ms.p50 >= TTFT_MS - 1


def test_open_loop_constant_rate_starts_on_schedule_and_reports_lag(timed_url: str) -> None:
    config = BenchConfig(
        url=timed_url, model="fake", rate=[40], arrival="constant", duration_s=1.0, output_tokens=2
    )
    point = run_bench(config).points[0]
    assert point.rate == 40 and point.concurrency is None
    assert 38 <= point.requests <= 42  # 40/s for 1 s, evenly spaced
    assert point.schedule_lag_ms is not None and point.schedule_lag_ms.count == point.requests
    assert point.schedule_lag_ms.p50 is not None and point.schedule_lag_ms.p50 < 20
    # Little's law: 40/s × 60 ms in flight each
    assert point.in_flight == pytest.approx(40 * 0.060, rel=0.25)


def test_open_loop_poisson_sends_the_requested_count(timed_url: str) -> None:
    config = BenchConfig(
        url=timed_url, model="fake", rate=[50], requests=20, output_tokens=1, arrival="poisson"
    )
    first = run_bench(config).points[0]
    assert first.requests == 20
    assert first.arrival == "poisson"


def test_completions_api_and_chunk_counting_without_usage(timed_url: str) -> None:
    config = BenchConfig(
        url=timed_url + "/v1/",
        model="no-usage",
        api="completions",
        concurrency=[4],
        requests=8,
        output_tokens=5,
    )
    point = run_bench(config).points[0]
    assert point.requests == 8
    assert point.token_source == TokenSource.CHUNKS
    assert point.output_tokens_mean == 5


def test_requests_mode_runs_exactly_that_many(timed_url: str) -> None:
    config = BenchConfig(url=timed_url, model="fake", concurrency=[3, 5], requests=10, output_tokens=1)
    results = run_bench(config)
    assert [p.requests for p in results.points] == [10, 10]
    assert [p.concurrency for p in results.points] == [3, 5]
    assert results.stop_reason == "all levels run"


def test_sweep_stops_when_the_slo_breaks(timed_url: str) -> None:
    # E2E of one request is 50 ms + 1 × 10 ms = 60 ms; an E2E p50 limit of 40 ms breaks at the first level.
    config = BenchConfig(
        url=timed_url,
        model="fake",
        sweep=True,
        requests=4,
        output_tokens=2,
        slo=[{"metric": "e2e", "stat": "p50", "limit_ms": 40}],
    )
    results = run_bench(config)
    assert len(results.points) == 1
    assert results.stop_reason.startswith("SLO broken at concurrency 1")
    assert results.points[0].goodput is not None and results.points[0].goodput.good_requests == 0


def test_load_levels_double_in_a_sweep_up_to_the_maximum() -> None:
    config = BenchConfig(url="http://x", model="m", sweep=True, concurrency=[2], sweep_max=16)
    assert [level for _, level in load_levels(config)] == [2, 4, 8, 16]
    assert list(load_levels(BenchConfig(url="http://x", model="m", rate=[1.5, 3]))) == [
        ("rate", 1.5),
        ("rate", 3.0),
    ]


def test_api_base_accepts_urls_with_or_without_v1() -> None:
    assert api_base("http://h:8000") == "http://h:8000/v1"
    assert api_base("http://h:8000/v1/") == "http://h:8000/v1"
