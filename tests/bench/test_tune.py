"""`kubellm tune SPEC --from results.json`: the knee judged by the spec's serving.slo, per replica, written
into the spec only where asked, with the spec's comments and order kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubellm.bench.tune import tune_spec
from kubellm.cli.app import app
from kubellm.errors import UsageError
from kubellm.spec import LLMService, load_spec
from kubellm.spec.bench import BenchConfig, BenchMetadata, BenchPoint, BenchResults, LatencyStats, TokenSource

SPEC = """\
# Demo service — hand-written, with comments that must survive `tune --in-place`.
apiVersion: kubellm.dev/v1alpha1
kind: LLMService
metadata:
  name: demo  # the name clients see
model:
  source: hf://Qwen/Qwen3-0.6B
gpu:
  type: L4
serving:
  # what one replica should hold
  target_concurrency: 16
  slo:
    ttft_p95_ms: {ttft}
    itl_p95_ms: 50
scaling:
  min_replicas: 1
  max_replicas: 4
  metric: {metric}   # what the autoscaler watches
"""

# load: (output tok/s, TTFT p95 ms, ITL p95 ms) — throughput plateaus after c=8, TTFT climbs from c=8
CURVE = {1: (100, 100, 10), 2: (195, 110, 11), 4: (380, 130, 12), 8: (700, 300, 20), 16: (760, 900, 40)}


def _point(c: int, tokens: float, ttft: float, itl: float) -> BenchPoint:
    return BenchPoint(
        concurrency=c, duration_s=30, requests=30 * c, in_flight=c, requests_per_s=tokens / 100,
        output_tokens_per_s=tokens, total_tokens_per_s=2 * tokens, ttft_ms=LatencyStats(p50=ttft / 2, p95=ttft),
        tpot_ms=LatencyStats(p50=itl / 2, p95=itl), itl_ms=LatencyStats(p50=itl / 2, p95=itl),
        e2e_ms=LatencyStats(p50=ttft + 100 * itl, p95=ttft + 100 * itl), token_source=TokenSource.USAGE,
    )  # fmt: skip


def _results(levels: list[int], replicas: int = 1) -> BenchResults:
    meta = BenchMetadata(
        kubellm_version="0",
        started_at="2026-01-01T00:00:00+00:00",
        config=BenchConfig(url="http://x", model="m", concurrency=levels, replicas=replicas),
    )
    return BenchResults(metadata=meta, points=[_point(c, *CURVE[c]) for c in levels])


def _spec(ttft: float = 500, metric: str = "running") -> LLMService:
    return LLMService.model_validate(yaml.safe_load(SPEC.format(ttft=ttft, metric=metric)))


def test_the_lower_of_the_slo_knee_and_the_throughput_knee_is_written() -> None:
    loose = tune_spec(_spec(ttft=500), _results([1, 2, 4, 8, 16]))
    assert loose.knee.slo_max_load == 8 and loose.knee.saturation_load == 8
    assert loose.spec.serving.target_concurrency == 8
    tight = tune_spec(_spec(ttft=200), _results([1, 2, 4, 8, 16]))
    assert tight.knee.slo_max_load == 4 and tight.spec.serving.target_concurrency == 4
    assert tight.spec.scaling.target == pytest.approx(3.2)
    assert (
        "SLO knee at concurrency 4" in tight.changes[0]
        and "throughput knee concurrency 8" in tight.changes[0]
    )


def test_loads_measured_through_a_gateway_are_divided_by_its_replicas() -> None:
    tuning = tune_spec(_spec(ttft=500), _results([1, 2, 4, 8, 16], replicas=2))
    assert tuning.spec.serving.target_concurrency == 4  # 8 in flight over 2 replicas
    assert any("over 2 replicas: 8 in flight in total → 4 per replica" in c for c in tuning.changes)
    assert (
        tune_spec(_spec(ttft=500), _results([1, 2, 4, 8, 16]), replicas=4).spec.serving.target_concurrency
        == 2
    )


def test_one_level_is_refused_with_what_to_measure() -> None:
    with pytest.raises(UsageError, match="only one load level") as err:
        tune_spec(_spec(), _results([8]))
    assert "--sweep" in (err.value.fix or "")


def test_no_level_meeting_the_slo_is_refused() -> None:
    with pytest.raises(UsageError, match=r"no measured load level met serving\.slo"):
        tune_spec(_spec(ttft=50), _results([1, 2, 4]))


def test_queue_metric_caps_running_sequences_at_the_knee() -> None:
    tuning = tune_spec(_spec(metric="queue"), _results([1, 2, 4, 8, 16]))
    assert tuning.spec.serving.max_num_seqs == 8 and tuning.spec.scaling.target == pytest.approx(1.6)
    assert (("serving", "max_num_seqs"), 8) in tuning.edits


def test_kv_cache_metric_target_is_left_alone_and_said() -> None:
    tuning = tune_spec(_spec(metric="kv-cache"), _results([1, 2, 4, 8]))
    assert tuning.spec.scaling.target == _spec().scaling.target
    assert any("left at" in c for c in tuning.changes)


def _files(tmp_path: Path, ttft: float = 500) -> tuple[Path, Path]:
    spec = tmp_path / "svc.yaml"
    spec.write_text(SPEC.format(ttft=ttft, metric="running"))
    results = tmp_path / "results.json"
    results.write_text(_results([1, 2, 4, 8, 16]).model_dump_json())
    return spec, results


def test_without_output_nothing_is_written_and_the_tuned_spec_is_printed(tmp_path: Path) -> None:
    spec, results = _files(tmp_path)
    before = spec.read_text()
    out = CliRunner().invoke(app, ["tune", str(spec), "--from", str(results)])
    assert out.exit_code == 0, out.output
    assert spec.read_text() == before
    assert "target_concurrency: 8" in out.stdout and "nothing written" in out.stderr


def test_in_place_keeps_every_comment_and_the_order(tmp_path: Path) -> None:
    spec, results = _files(tmp_path)
    before = spec.read_text().splitlines()
    out = CliRunner().invoke(app, ["tune", str(spec), "--from", str(results), "--in-place"])
    assert out.exit_code == 0, out.output
    after = spec.read_text().splitlines()
    expected = [line.replace("target_concurrency: 16", "target_concurrency: 8") for line in before]
    expected.append("  target: 6.4")  # scaling.target was not in the file: added at the end of its section
    assert after == expected
    tuned = load_spec(spec)
    assert tuned.serving.target_concurrency == 8 and tuned.scaling.target == pytest.approx(6.4)


def test_output_file_gets_the_tuned_spec_and_the_original_stays(tmp_path: Path) -> None:
    spec, results = _files(tmp_path)
    before = spec.read_text()
    target = tmp_path / "tuned.yaml"
    out = CliRunner().invoke(app, ["tune", str(spec), "--from", str(results), "-o", str(target)])
    assert out.exit_code == 0, out.output
    assert spec.read_text() == before
    assert load_spec(target).serving.target_concurrency == 8
    assert target.read_text().startswith("# Demo service")
