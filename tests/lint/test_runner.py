"""Suppression (annotation, select/ignore, config files), skipped kinds and finding locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubellm.errors import UsageError
from kubellm.lint.config import find_config, load_config
from kubellm.lint.registry import selected

from .cases import ctr, edit, expert, find, lint, lint_yaml, set_path, tp


def _bad() -> list[dict[str, object]]:
    return edit(
        set_path("ctr", "image", "vllm/vllm-openai:latest"), set_path("pod", "runtimeClassName", None)
    )()


def test_annotation_suppresses_listed_ids_and_prefixes() -> None:
    objs = _bad()
    find(objs, "Deployment")["metadata"]["annotations"] = {"kubellm.dev/lint-ignore": "GPU012, GPU01"}
    result = lint(objs)
    assert not {"GPU012", "GPU018"} & {f.rule for f in result.findings}
    assert result.suppressed >= 2


def test_pod_template_annotation_also_suppresses() -> None:
    objs = _bad()
    find(objs, "Deployment")["spec"]["template"]["metadata"]["annotations"] = {
        "kubellm.dev/lint-ignore": "GPU012"
    }
    assert "GPU012" not in {f.rule for f in lint(objs).findings}


def test_select_and_ignore_by_id_or_prefix() -> None:
    assert selected("GPU012", ["GPU"], []) and not selected("SEC001", ["GPU"], [])
    assert not selected("GPU012", [], ["gpu01"]) and selected("GPU020", [], ["GPU01"])
    result = lint(_bad(), select=["GPU"], ignore=["GPU018"])
    assert {f.rule for f in result.findings} == {"GPU012"}


def test_unknown_kinds_are_skipped_with_a_note() -> None:
    result = lint_yaml("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    assert result.findings == [] and "Widget" in result.notes[0]


def test_finding_carries_location_and_fix() -> None:
    objs = edit(tp(2))()
    finding = next(f for f in lint(objs).findings if f.rule == "GPU003")
    assert (finding.kind, finding.namespace, finding.name, finding.container) == (
        "Deployment",
        "llm",
        "llama",
        "vllm",
    )
    assert finding.path == "spec.template.spec.containers[0].resources" and finding.line and finding.line > 10
    assert "2 GPUs" in finding.message and finding.fix


def test_config_yaml_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / ".kubellm.yaml").write_text("lint:\n  ignore: [GPU018, SEC005]\n  strict: true\n  gpu: l4\n")
    config = find_config(tmp_path)
    assert (config.ignore, config.strict, config.gpu) == (["GPU018", "SEC005"], True, "l4")
    other = tmp_path / "proj"
    other.mkdir()
    (other / ".git").mkdir()
    (other / "pyproject.toml").write_text('[tool.kubellm.lint]\nselect = ["GPU", "FIT"]\n')
    assert find_config(other).select == ["GPU", "FIT"]


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / ".kubellm.yaml"
    path.write_text("lint:\n  ignroe: [GPU018]\n")
    with pytest.raises(UsageError, match="ignroe"):
        load_config(path)


def test_duplicate_findings_are_reported_once() -> None:
    objs = expert()
    ctr(objs)["image"] = "vllm/vllm-openai:latest"
    assert sum(1 for f in lint(objs).findings if f.rule == "GPU012") == 1
