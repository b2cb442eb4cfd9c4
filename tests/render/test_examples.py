"""Every example renders to its golden file, deterministically, validates for 1.29 and the newest
Kubernetes, and lints clean.

Regenerate the golden files after an intended change with:
    KUBELLM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/render/test_examples.py
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from render_helpers import GOLDEN, GOLDEN_EXAMPLES, SERVICE_EXAMPLES, render_example, render_spec

from kubellm.render.output import to_yaml
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects
from kubellm.spec import load_spec

UPDATE = os.environ.get("KUBELLM_UPDATE_GOLDEN") == "1"
IDS = [p.stem for p in SERVICE_EXAMPLES]


@pytest.mark.parametrize("example", GOLDEN_EXAMPLES, ids=[p.stem for p in GOLDEN_EXAMPLES])
def test_example_matches_golden(example: Path) -> None:
    text = to_yaml(render_example(example))
    golden = GOLDEN / f"{example.stem}.yaml"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file for {example.name}: run with KUBELLM_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{example.name} renders differently from {golden.name}"
    )


def test_every_example_has_a_golden_file_and_no_golden_is_orphaned() -> None:
    goldens = {p.stem for p in GOLDEN.glob("*.yaml") if p.stem != "cluster"}
    assert goldens == {p.stem for p in GOLDEN_EXAMPLES}


def test_same_spec_gives_same_bytes() -> None:
    example = SERVICE_EXAMPLES[0]
    first = to_yaml(render_spec(load_spec(example)))
    second = to_yaml(render_spec(load_spec(example)))
    assert first == second


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
@pytest.mark.parametrize("version", [OLDEST_VERSION, "newest"])
def test_example_validates_strictly(example: Path, version: str) -> None:
    k8s = newest_version() if version == "newest" else version
    problems = validate_objects(render_example(example), k8s)
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
def test_example_lints_without_errors_or_warnings(example: Path) -> None:
    from kubellm.lint.finding import Severity
    from kubellm.lint.loader import parse_text
    from kubellm.lint.runner import lint_loaded

    result = lint_loaded(parse_text(to_yaml(render_example(example)), example.name))
    bad = [f for f in result.findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    assert bad == [], "\n".join(f"{f.rule} {f.message}" for f in bad)


def test_validation_catches_an_unknown_field() -> None:
    objects = render_example(SERVICE_EXAMPLES[0])
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    scaled = next(o for o in objects if o["kind"] == "ScaledObject")
    scaled["spec"]["minReplicas"] = 1  # KEDA spells it minReplicaCount
    problems = validate_objects(objects, OLDEST_VERSION)
    assert {(p.kind, p.path) for p in problems} == {
        ("Deployment", "spec.template.spec.containers.0"),
        ("ScaledObject", "spec"),
    }
