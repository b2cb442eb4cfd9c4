"""The real-manifest corpus: every file lints, raises exactly the checked-in rule ids, and the GPU/LLM
mistakes listed for it are caught. Regenerate the expectations with KUBELLM_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from kubellm.lint.loader import load_paths
from kubellm.lint.registry import all_rules
from kubellm.lint.runner import LintResult, lint_loaded

DATA = Path(__file__).parent / "data"
CORPUS = sorted((DATA / "corpus").glob("*.yaml"))
EXPECTATIONS = Path(__file__).parent / "corpus_expectations.yaml"
_cache: dict[str, LintResult] = {}


def _lint(path: Path) -> LintResult:
    if path.name not in _cache:
        _cache[path.name] = lint_loaded(load_paths([str(path)]))
    return _cache[path.name]


def _expected() -> dict[str, list[str]]:
    if os.environ.get("KUBELLM_UPDATE_GOLDEN"):
        data = {p.name: sorted({f.rule for f in _lint(p).findings}) for p in CORPUS}
        header = "# Rule ids `kubellm lint` raises on each corpus file (tests/lint/data/corpus), checked by test_corpus.py.\n"
        EXPECTATIONS.write_text(
            header + yaml.safe_dump(data, sort_keys=True, width=200, default_flow_style=None)
        )
    loaded: dict[str, list[str]] = yaml.safe_load(EXPECTATIONS.read_text())
    return loaded


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_file_raises_its_expected_rules(path: Path) -> None:
    result = _lint(path)
    assert not [f for f in result.findings if f.rule == "LINT001"]
    assert sorted({f.rule for f in result.findings}) == _expected()[path.name]


def test_reported_broken_production_stack_config() -> None:
    """production-stack#276: TP through extraArgs, no /dev/shm → NCCL shm error."""
    rules = {
        f.rule
        for f in _lint(
            DATA / "corpus" / "production-stack__issue276-tp-in-extraargs-no-shm-rendered.yaml"
        ).findings
    }
    assert {"GPU005", "GPU012", "GPU008", "GPU010", "GPU015", "GPU021"} <= rules


def test_reported_broken_ollama_config() -> None:
    """ollama-helm#203: the cache on emptyDir (re-pulled on every restart) and no memory limit are found; the
    probes on '/' are not reported, because Kubernetes starts probes only after the postStart pull returns."""
    rules = {
        f.rule
        for f in _lint(DATA / "corpus" / "ollama-helm__rendered-gpu-user-values-issue203.yaml").findings
    }
    assert {"GPU028", "GPU021", "GPU010"} <= rules and not {"GPU007", "GPU009"} & rules


def _tsv(name: str) -> list[list[str]]:
    text = (DATA / name).read_text()
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def test_every_corpus_mistake_is_flagged_or_retired_with_a_reason() -> None:
    """The corpus mistakes are all caught, except those issue #14 reclassified (gpu_mistakes_retired.tsv):
    a retired mistake must really go unflagged, so the list cannot hide a regression."""
    rules_for: dict[str, set[str]] = defaultdict(set)
    for r in all_rules():
        for mistake in r.meta.mistakes:
            rules_for[mistake].add(r.meta.id)
    rows = _tsv("gpu_mistakes.tsv")
    retired = {(row[0], row[1]) for row in _tsv("gpu_mistakes_retired.tsv")}
    caught = {
        (row[0], row[1])
        for row in rows
        if any(f.rule in rules_for[row[1]] for f in _lint(DATA / "corpus" / row[0]).findings)
    }
    assert len(rows) == 85
    assert {(row[0], row[1]) for row in rows} - caught == retired


def test_corpus_raises_no_fit_false_positives() -> None:
    for path in CORPUS:
        assert not [f for f in _lint(path).findings if f.rule.startswith("FIT")], path.name
