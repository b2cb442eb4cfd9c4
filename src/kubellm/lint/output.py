"""Writers for lint results: text, JSON, SARIF 2.1.0 and GitHub workflow commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubellm import __version__
from kubellm.lint.finding import Finding, Severity
from kubellm.lint.registry import all_rules
from kubellm.lint.runner import LintResult

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = (
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
)
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _where(f: Finding) -> str:
    location = f"{f.file}:{f.line}" if f.line else f.file
    obj = f"{f.kind}/{f.name}" if f.kind else ""
    if f.namespace:
        obj = f"{f.kind}/{f.namespace}/{f.name}"
    if f.container:
        obj += f" [{f.container}]"
    return f"{location}: {obj}".rstrip(": ")


def to_text(result: LintResult, show_fix: bool = True) -> str:
    lines: list[str] = []
    for f in result.findings:
        lines.append(f"{_where(f)}: {f.severity.value} {f.rule} {f.message}")
        if show_fix:
            lines.append(f"    fix: {f.fix}")
    s = result.summary()
    lines.append(
        f"{s['files']} file(s), {s['objects']} object(s): {s['errors']} error(s), {s['warnings']} warning(s), "
        f"{s['infos']} info" + (f", {s['suppressed']} suppressed" if s["suppressed"] else "")
    )
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines)


def to_json(result: LintResult) -> dict[str, Any]:
    return {"findings": [f.to_json() for f in result.findings], "summary": result.summary()}


def _uri(file: str) -> str:
    """A SARIF artifact URI: relative paths stay relative (code scanning resolves them), absolute ones become file:// URIs."""
    if file == "<stdin>":
        return "stdin"
    path = Path(file)
    if path.is_absolute():
        return path.as_uri()
    return path.as_posix().removeprefix("./")


def to_sarif(result: LintResult) -> dict[str, Any]:
    rules = all_rules()
    index = {r.meta.id: i for i, r in enumerate(rules)}
    driver_rules = [
        {
            "id": r.meta.id,
            "name": r.meta.name,
            "shortDescription": {"text": r.meta.title},
            "fullDescription": {"text": r.meta.why},
            "help": {
                "text": f"{r.meta.why}\n\nFix: {r.meta.fix}",
                "markdown": f"{r.meta.why}\n\n**Fix:** {r.meta.fix}",
            },
            "defaultConfiguration": {"level": _SARIF_LEVEL[r.meta.severity]},
            "properties": {"tags": [r.meta.family]},
        }
        for r in rules
    ]
    results: list[dict[str, Any]] = []
    for f in result.findings:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.file)}}
        if f.line:
            physical["region"] = {"startLine": f.line}
        item: dict[str, Any] = {
            "ruleId": f.rule,
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}. Fix: {f.fix}"},
            "locations": [{"physicalLocation": physical}],
        }
        if f.rule in index:
            item["ruleIndex"] = index[f.rule]
        if f.kind:
            name = "/".join(p for p in (f.kind, f.namespace, f.name) if p)
            item["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": name, "kind": "object"}]
        if f.path:
            item["properties"] = {"path": f.path, "container": f.container}
        results.append(item)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kubellm",
                        "version": __version__,
                        "informationUri": "https://github.com/kubellm/kubellm",
                        "rules": driver_rules,
                    }
                },
                "results": results,
            }
        ],
    }


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def to_github(result: LintResult) -> str:
    """GitHub Actions workflow commands: one ::error/::warning/::notice line per finding."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    for f in result.findings:
        props = f"file={_escape(f.file, True)}" + (f",line={f.line}" if f.line else "")
        props += f",title={_escape(f.rule + ' ' + f.kind + '/' + f.name, True)}"
        lines.append(f"::{level[f.severity]} {props}::{_escape(f.message + ' — fix: ' + f.fix)}")
    return "\n".join(lines)


def render(result: LintResult, fmt: str) -> str:
    if fmt == "json":  # compact: machine formats, and the C encoder is 10x faster than indent=2
        return json.dumps(to_json(result), ensure_ascii=False)
    if fmt == "sarif":
        return json.dumps(to_sarif(result), ensure_ascii=False)
    if fmt == "github":
        return to_github(result)
    return to_text(result)
