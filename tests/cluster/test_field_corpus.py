"""The field corpus is whole: both splits are in the repository, every item is labelled, and its split is the one the
seeded hash of its source gives (a split that went missing, e.g. swallowed by an ignore rule, fails here)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from doctor_corpus import FIELD, Item, load_items, split_of

from kubellm.cluster.findings import CATEGORIES


def test_both_splits_are_present_and_large_enough() -> None:
    items = load_items()
    errors = Counter(i.split for i in items if not i.healthy)
    healthy = Counter(i.split for i in items if i.healthy)
    assert sum(errors.values()) >= 250 and sum(healthy.values()) >= 20
    assert set(errors) == {"build", "holdout"} and set(healthy) == {"build", "holdout"}
    assert {p.name for p in FIELD.iterdir() if p.is_dir()} == {"build", "holdout"}


def test_each_item_sits_in_the_split_of_its_source_and_names_known_categories() -> None:
    for item in load_items():
        assert item.split == split_of(item.source) == item.path.parent.name, item.path.name
        assert item.source.startswith("https://"), item.path.name
        assert item.healthy or set(item.expect) <= set(CATEGORIES), item.path.name


@pytest.mark.parametrize(
    "item", [i for i in load_items() if i.split == "build" and i.healthy], ids=lambda i: i.path.stem
)
def test_healthy_build_logs_raise_no_error(item: Item) -> None:
    from kubellm.cluster.doctor import diagnose_text

    findings = diagnose_text(item.text)
    assert [f.id for f in findings if f.severity == "error"] == []
