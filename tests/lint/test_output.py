"""Output writers: the JSON contract, SARIF 2.1.0 validity, GitHub commands and text."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from kubellm.lint.output import render, to_github, to_json, to_sarif, to_text

from .cases import edit, lint, set_path, tp

SCHEMA = (
    Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
)  # OASIS SARIF 2.1.0 schema (sarif-spec Schemata)
FINDING_KEYS = {
    "rule",
    "severity",
    "kind",
    "namespace",
    "name",
    "container",
    "path",
    "file",
    "line",
    "message",
    "fix",
}


def _result():  # type: ignore[no-untyped-def]
    return lint(edit(tp(2), set_path("ctr", "image", "vllm/vllm-openai:latest"))())


def test_json_shape() -> None:
    data = to_json(_result())
    assert set(data) == {"findings", "summary"}
    assert all(set(f) == FINDING_KEYS for f in data["findings"])
    assert data["summary"]["errors"] == sum(1 for f in data["findings"] if f["severity"] == "error") >= 2
    json.loads(render(_result(), "json"))


def test_sarif_validates_against_the_2_1_0_schema() -> None:
    sarif = to_sarif(_result())
    jsonschema.validate(sarif, json.loads(SCHEMA.read_text()))
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"GPU003", "GPU012"}
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_github_annotations() -> None:
    lines = to_github(_result()).splitlines()
    assert any(line.startswith("::error file=case.yaml,line=") and "GPU012" in line for line in lines)


def test_text_has_location_message_fix_and_summary() -> None:
    text = to_text(_result())
    assert (
        "case.yaml:" in text
        and "error GPU003" in text
        and "fix:" in text
        and "error(s)" in text.splitlines()[-1]
    )


def test_sarif_uris() -> None:
    from kubellm.lint.output import _uri

    assert (
        _uri("./deploy/a.yaml") == "deploy/a.yaml"
        and _uri("/tmp/a.yaml") == "file:///tmp/a.yaml"
        and _uri("<stdin>") == "stdin"
    )
