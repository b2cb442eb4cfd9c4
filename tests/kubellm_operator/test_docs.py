"""docs/operator.md names every condition reason the operator can write and every condition type."""

from __future__ import annotations

import re
from pathlib import Path

from kubellm.operator.conditions import REASONS
from kubellm.operator.status import CONDITION_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operator.md").read_text(encoding="utf-8")
CODE = "\n".join(
    (ROOT / "src" / "kubellm" / "operator" / name).read_text(encoding="utf-8")
    for name in ("conditions.py", "reconcile.py")
)


def reasons_in_code() -> set[str]:
    found = set(REASONS.values())
    found |= set(re.findall(r'Verdict\(\s*"\w+",\s*"\w+",\s*"(\w+)"', CODE))
    found |= set(re.findall(r'cond\.planned\(.*?"(\w+)",\s*(?:exc\.)?fix\)', CODE))
    found |= set(re.findall(r'from_finding\([^)]*?, "(\w+)"\)', CODE))
    return found


def test_every_reason_the_operator_writes_is_documented() -> None:
    reasons = reasons_in_code()
    assert {
        "Unschedulable",
        "Downloading",
        "KvCacheTooSmall",
        "DoesNotFit",
        "InvalidSpec",
        "ApplyFailed",
    } <= reasons
    missing = sorted(r for r in reasons if not re.search(rf"\b{r}\b", DOC))
    assert missing == []


def test_every_condition_type_has_a_row() -> None:
    for condition in CONDITION_TYPES:
        assert re.search(rf"^\| `{condition}` \|", DOC, flags=re.MULTILINE), condition
