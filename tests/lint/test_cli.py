"""`kubellm lint` end to end through the CLI: exit codes, formats, stdin, --explain, --strict."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.lint.docs import rules_markdown

from .cases import EXPERT_YAML, edit, set_path

runner = CliRunner()


def _write(tmp_path: Path, objs: list[dict[str, object]]) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(objs))
    return str(path)


def test_clean_manifest_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "expert.yaml"
    path.write_text(EXPERT_YAML)
    result = runner.invoke(app, ["lint", str(path), "--no-config"])
    assert result.exit_code == 0, result.output


def test_errors_exit_1_and_warnings_only_with_strict(tmp_path: Path) -> None:
    errors = _write(tmp_path, edit(set_path("ctr", "image", "vllm/vllm-openai:latest"))())
    assert runner.invoke(app, ["lint", errors, "--no-config"]).exit_code == 1
    warn = tmp_path / "w.yaml"
    warn.write_text(yaml.safe_dump_all(edit(set_path("ctr", "livenessProbe.timeoutSeconds", 1))()))
    assert runner.invoke(app, ["lint", str(warn), "--no-config"]).exit_code == 0
    assert runner.invoke(app, ["lint", str(warn), "--no-config", "--strict"]).exit_code == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    from kubellm.cli.app import main  # noqa: F401  (the error-to-exit-code boundary)

    assert runner.invoke(app, ["lint", "--no-config"]).exit_code != 0
    result = runner.invoke(app, ["lint", str(tmp_path), "--format", "xml", "--no-config"])
    assert result.exit_code != 0 and getattr(result.exception, "exit_code", None) == 2


def test_json_from_stdin() -> None:
    result = runner.invoke(
        app,
        ["lint", "-", "--json", "--no-config"],
        input=yaml.safe_dump_all(edit(set_path("ctr", "image", "vllm/vllm-openai:latest"))()),
    )
    data = json.loads(result.output)
    assert data["findings"][0]["file"] == "<stdin>" and data["summary"]["errors"] >= 1


def test_explain_and_unknown_rule() -> None:
    result = runner.invoke(app, ["lint", "--explain", "gpu005"])
    assert result.exit_code == 0 and "/dev/shm" in result.output and "Fix" in result.output
    assert getattr(runner.invoke(app, ["lint", "--explain", "NOPE1"]).exception, "exit_code", None) == 2


def test_rules_doc_matches_generator() -> None:
    result = runner.invoke(app, ["lint", "--rules-doc"])
    assert result.output == rules_markdown()


def test_gpu_flag_and_select(tmp_path: Path) -> None:
    objs = edit(
        set_path("pod", "nodeSelector", None),
        set_path("ctr", "args", ["serve", "meta-llama/Llama-3.1-70B-Instruct", "--max-model-len=8192"]),
    )()
    path = _write(tmp_path, objs)
    result = runner.invoke(app, ["lint", path, "--gpu", "l4", "--select", "FIT", "--json", "--no-config"])
    assert {f["rule"] for f in json.loads(result.output)["findings"]} == {"FIT001"}
