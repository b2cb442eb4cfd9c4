"""Loading manifests: multi-document files, List kinds, directories, stdin, malformed YAML and line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubellm.errors import UsageError
from kubellm.lint.loader import load_paths, parse_text
from kubellm.lint.runner import lint_loaded

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx
"""


def test_multi_document_and_empty_documents() -> None:
    result = parse_text(
        "---\n" + DEPLOY + "---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "f.yaml"
    )
    assert [o.kind for o in result.objects] == ["Deployment", "Service"] and result.problems == []


def test_list_kind_is_unpacked_with_lines() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: a}\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: b}\n"
    result = parse_text(text, "list.yaml")
    assert [(o.kind, o.name, o.line) for o in result.objects] == [("Service", "a", 4), ("ConfigMap", "b", 7)]


def test_line_of_json_path() -> None:
    obj = parse_text(DEPLOY, "d.yaml").objects[0]
    assert obj.line_of("spec.template.spec.containers[0].image") == 9
    assert obj.line_of("spec.template.spec.containers[0].nothing.here") == 8


def test_malformed_file_is_reported_and_others_still_linted(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(DEPLOY)
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n   labels: {}\n")
    result = lint_loaded(load_paths([str(tmp_path)]))
    parse = [f for f in result.findings if f.rule == "LINT001"]
    assert len(parse) == 1 and parse[0].file.endswith("bad.yaml") and parse[0].line == 5
    assert any(f.file.endswith("good.yaml") for f in result.findings if f.rule != "LINT001")


def test_directories_are_read_recursively_yaml_only(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.yml").write_text(DEPLOY)
    (tmp_path / "notes.txt").write_text("kind: [")
    result = load_paths([str(tmp_path)])
    assert len(result.objects) == 1 and result.problems == []


def test_stdin_dash() -> None:
    result = load_paths(["-"], stdin_text=DEPLOY)
    assert result.objects[0].file == "<stdin>"


def test_missing_path_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        load_paths(["/nonexistent/x.yaml"])


def test_scalar_document_and_kindless_object_are_skipped_with_notes() -> None:
    result = parse_text("just a string\n---\nmetadata: {name: x}\n", "odd.yaml")
    assert result.problems == [] and result.objects == []
    assert [n.split(": ")[0] for n in result.notes] == ["skipped odd.yaml:1", "skipped odd.yaml:3"]


def test_helm_output_with_source_comments() -> None:
    text = (
        "---\n# Source: chart/templates/deployment.yaml\n"
        + DEPLOY
        + "---\n# Source: chart/templates/empty.yaml\n"
    )
    assert len(parse_text(text, "helm.yaml").objects) == 1


def test_unrendered_helm_template_gets_a_hint() -> None:
    text = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    {{- include "x" . | nindent 4 }}\n'
    problem = parse_text(text, "svc.yaml").problems[0]
    assert "helm template" in problem.message
