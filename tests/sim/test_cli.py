"""`kubellm sim` on the command line: virtual replays and flag errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.errors import UsageError

runner = CliRunner()


def test_virtual_poisson_prints_a_json_report() -> None:
    result = runner.invoke(
        app,
        ["sim", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "h100", "--virtual", "--rate", "2",
         "--duration", "30", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["completed"] == report["requests"] > 30
    assert report["itl_ms"]["p50"] > 0 and report["ttft_ms"]["p95"] > 0
    assert "H100" in report["engine"]


def test_virtual_trace_prints_a_table(tmp_path: Path) -> None:
    trace = tmp_path / "arrivals.jsonl"
    trace.write_text(
        "".join(
            json.dumps({"arrival_s": i * 0.5, "prompt_tokens": 200, "output_tokens": 50}) + "\n"
            for i in range(10)
        )
    )
    result = runner.invoke(
        app, ["sim", "--model", "llama-3.1-8b", "--gpu", "h200", "--trace", str(trace), "--virtual"]
    )
    assert result.exit_code == 0, result.output
    assert "TTFT" in result.output and "10/10 requests" in result.output


def test_trace_without_virtual_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sim", "--model", "llama-3.1-8b", "--gpu", "h100", "--trace", str(tmp_path / "x.jsonl")]
    )
    assert isinstance(result.exception, UsageError)
    assert "--virtual" in result.exception.fix


def test_missing_model_is_a_usage_error() -> None:
    result = runner.invoke(app, ["sim", "--gpu", "h100", "--virtual", "--rate", "1"])
    assert isinstance(result.exception, UsageError)
