"""`kubellm plan --slo … --traffic …` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.errors import UsageError
from kubellm.planning import plan
from kubellm.spec import load_spec

runner = CliRunner()
ARGS = [
    "plan",
    "--model",
    "Qwen2.5-0.5B-Instruct",
    "--gpus",
    "l4,a10g",
    "--traffic",
    "concurrency=8,prompt=256,output=64",
]


def test_json_ranks_candidates_and_marks_the_best() -> None:
    result = runner.invoke(app, [*ARGS, "--slo", "ttft_p95_ms=500,itl_p95_ms=50", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    best = data["candidates"][data["best"]]
    assert best["meets_slo"] and best["predicted"]["itl_p95_ms"] <= 50
    costs = [
        c["usd_per_hour"] for c in data["candidates"] if c["meets_slo"] and c["usd_per_hour"] is not None
    ]
    assert best["usd_per_hour"] == min(costs)
    assert all(c["why"] for c in data["candidates"])


def test_the_best_is_written_as_a_spec_that_plans_to_it(tmp_path: Path) -> None:
    out = tmp_path / "best.yaml"
    result = runner.invoke(app, [*ARGS, "--slo", "ttft_p95_ms=500,itl_p95_ms=50", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Sized by: kubellm plan")
    spec = load_spec(out)
    assert spec.serving.slo.itl_p95_ms == 50 and spec.serving.slo.ttft_p95_ms == 500
    assert spec.gpu.type in ("L4", "A10G") and spec.scaling.min_replicas >= 1
    assert plan(spec).fits


def test_an_slo_nothing_meets_exits_1_and_names_the_nearest_miss(tmp_path: Path) -> None:
    out = tmp_path / "best.yaml"
    result = runner.invoke(app, [*ARGS, "--slo", "ttft_p95_ms=1,itl_p95_ms=0.5", "-o", str(out)])
    assert result.exit_code == 1
    assert "no configuration meets the SLO; nearest miss:" in result.output
    assert not out.exists()


def test_a_budget_below_every_configuration_leaves_no_best() -> None:
    result = runner.invoke(
        app, [*ARGS, "--slo", "ttft_p95_ms=500,itl_p95_ms=50", "--budget-usd-hour", "0.1", "--json"]
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["best"] is None
    assert any("budget" in c["why"] for c in data["candidates"])


def test_sizing_needs_both_slo_and_traffic() -> None:
    result = runner.invoke(app, ["plan", "--model", "Qwen2.5-0.5B-Instruct", "--slo", "itl_p95_ms=50"])
    assert isinstance(result.exception, UsageError) and result.exception.exit_code == 2
    assert "needs both --slo and --traffic" in str(result.exception)
