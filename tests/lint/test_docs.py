"""docs/rules.md is generated from the rule metadata and must match it; every rule is documented fully."""

from __future__ import annotations

from pathlib import Path

from kubellm.lint.docs import rules_markdown
from kubellm.lint.registry import all_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_rules_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == rules_markdown(), (
        "regenerate: kubellm lint --rules-doc > docs/rules.md"
    )


def test_every_rule_has_why_fix_and_examples() -> None:
    for r in all_rules():
        meta = r.meta
        assert meta.title and meta.why and meta.fix and meta.bad and meta.good, meta.id


def test_at_least_fifty_rules_with_unique_names() -> None:
    rules = all_rules()
    assert len(rules) >= 50
    assert len({r.meta.name for r in rules}) == len(rules)


def test_research_gpu_ids_are_all_present() -> None:
    ids = {r.meta.id for r in all_rules()}
    assert {f"GPU{n:03d}" for n in range(1, 28)} <= ids
