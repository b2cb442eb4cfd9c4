"""`kubellm bench merge`: pods' results combine into one report."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubellm.bench.merge import merge_results
from kubellm.bench.summary import RequestRecord, summarize_point
from kubellm.cli.app import app
from kubellm.spec.bench import BenchConfig, BenchMetadata, BenchResults, TokenSource


def _pod(seed: int, concurrency: int, host: str) -> tuple[BenchResults, list[RequestRecord]]:
    rng = random.Random(seed)
    recs = []
    for i in range(300):
        start = i * 0.01
        ttft = rng.uniform(0.02, 0.2)
        times = [start + ttft + k * rng.uniform(0.008, 0.012) for k in range(4)]
        recs.append(
            RequestRecord(
                start_s=start,
                sent_s=start,
                end_s=times[-1],
                content_times_s=times,
                output_tokens=4,
                prompt_tokens=10,
                token_source=TokenSource.USAGE,
            )
        )
    point = summarize_point(recs, 0, 3.5, concurrency=concurrency)
    meta = BenchMetadata(
        kubellm_version="0",
        started_at=f"2026-01-01T00:00:0{seed}+00:00",
        host=host,
        config=BenchConfig(url="http://x", model="m", concurrency=[concurrency]),
    )
    return BenchResults(metadata=meta, points=[point], stop_reason="all levels run"), recs


def test_merge_adds_loads_and_pools_percentiles() -> None:
    (a, ra), (b, rb) = _pod(1, 8, "pod-a"), _pod(2, 8, "pod-b")
    merged = merge_results([a, b])
    pooled = summarize_point(ra + rb, 0, 3.5, concurrency=16)
    p = merged.points[0]
    assert p.concurrency == 16
    assert p.requests == a.points[0].requests + b.points[0].requests
    assert p.requests_per_s == pytest.approx(a.points[0].requests_per_s + b.points[0].requests_per_s)
    assert p.in_flight == pytest.approx(pooled.in_flight, rel=1e-3)
    for name in ("p50", "p90", "p99"):
        assert getattr(p.ttft_ms, name) == pytest.approx(getattr(pooled.ttft_ms, name), rel=0.011)
    assert p.ttft_ms.mean == pytest.approx(pooled.ttft_ms.mean, rel=1e-3)
    assert merged.metadata.pods == 2 and merged.metadata.host == "pod-a,pod-b"
    assert merged.knee is not None


def test_merge_cli_reads_kubectl_logs_output(tmp_path: Path) -> None:
    files = []
    for seed in (1, 2):
        res, _ = _pod(seed, 4, f"h{seed}")
        f = tmp_path / f"pod-{seed}.json"
        f.write_text("some log line\n" + res.model_dump_json())
        files.append(str(f))
    out = CliRunner().invoke(app, ["bench", "merge", *files, "--out", str(tmp_path / "merged")])
    assert out.exit_code == 0, out.output
    merged = BenchResults.model_validate_json((tmp_path / "merged" / "results.json").read_text())
    assert merged.points[0].concurrency == 8


def test_merge_keeps_only_levels_every_pod_ran() -> None:
    (a, _), (b, _) = _pod(1, 4, "a"), _pod(2, 4, "b")
    a.points.append(a.points[0])
    merged = merge_results([a, b])
    assert len(merged.points) == 1
    assert "left out" in merged.stop_reason
