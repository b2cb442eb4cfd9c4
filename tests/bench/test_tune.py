"""`kubellm tune SPEC --from results.json` writes the knee into the spec, and the spec still loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubellm.bench.tune import tune_spec
from kubellm.cli.app import app
from kubellm.errors import UsageError
from kubellm.spec import load_spec
from kubellm.spec.bench import BenchConfig, BenchMetadata, BenchResults, Knee

SPEC = """\
apiVersion: kubellm.dev/v1alpha1
kind: LLMService
metadata:
  name: demo
model:
  source: hf://Qwen/Qwen3-0.6B
gpu:
  type: L4
serving:
  target_concurrency: 16
scaling:
  min_replicas: 1
  max_replicas: 4
  metric: {metric}
"""


def _results(max_conc: int | None = 24) -> BenchResults:
    knee = Knee(
        mode="concurrency",
        knee_load=max_conc,
        recommended_max_concurrency=max_conc,
        autoscaling_target=round(0.8 * max_conc, 1) if max_conc else None,
        reason="test",
    )
    meta = BenchMetadata(
        kubellm_version="0",
        started_at="2026-01-01T00:00:00+00:00",
        config=BenchConfig(url="http://x", model="m"),
    )
    return BenchResults(metadata=meta, knee=knee)


def test_tune_round_trip_through_the_cli(tmp_path: Path) -> None:
    spec = tmp_path / "svc.yaml"
    spec.write_text(SPEC.format(metric="running"))
    results = tmp_path / "results.json"
    results.write_text(_results(24).model_dump_json())
    out = CliRunner().invoke(app, ["tune", str(spec), "--from", str(results)])
    assert out.exit_code == 0, out.output
    assert "serving.target_concurrency: 16 → 24" in out.output
    tuned = load_spec(spec)
    assert tuned.serving.target_concurrency == 24
    assert tuned.scaling.target == pytest.approx(19.2)
    assert tuned.metadata.name == "demo" and tuned.scaling.max_replicas == 4


def test_queue_metric_caps_running_sequences_at_the_knee() -> None:
    import yaml

    from kubellm.spec import LLMService

    spec = LLMService.model_validate(yaml.safe_load(SPEC.format(metric="queue")))
    tuned, changes = tune_spec(spec, _results(20))
    assert tuned.serving.max_num_seqs == 20
    assert tuned.scaling.target == 4.0
    assert any("max_num_seqs" in c for c in changes)


def test_kv_cache_metric_target_is_left_alone_and_said() -> None:
    import yaml

    from kubellm.spec import LLMService

    spec = LLMService.model_validate(yaml.safe_load(SPEC.format(metric="kv-cache")))
    tuned, changes = tune_spec(spec, _results(20))
    assert tuned.scaling.target == spec.scaling.target
    assert any("left at" in c for c in changes)


def test_results_without_a_knee_are_refused() -> None:
    import yaml

    from kubellm.spec import LLMService

    spec = LLMService.model_validate(yaml.safe_load(SPEC.format(metric="running")))
    with pytest.raises(UsageError, match="no knee"):
        tune_spec(spec, _results(None))
