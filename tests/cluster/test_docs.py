"""docs/cluster.md lists every finding id the code can produce, and the signature table matches the data file."""

from __future__ import annotations

import re
from pathlib import Path

from kubellm.cluster.signatures import load_signatures

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
SOURCE = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "kubellm" / "cluster").glob("*.py"))


def test_every_doctor_check_id_is_documented() -> None:
    ids = set(re.findall(r'"(DOC\d{3})"', SOURCE))
    assert len(ids) >= 40
    documented = set(re.findall(r"^\| (DOC\d{3}) \|", DOC, flags=re.MULTILINE))
    assert ids == documented


def test_signature_table_agrees_with_the_database() -> None:
    rows = dict(re.findall(r"^\| (SIG\d{3}) \| ([a-z-]+) \|", DOC, flags=re.MULTILINE))
    assert rows == {s.id: s.category for s in load_signatures()}


def test_signature_ids_are_unique_and_sourced() -> None:
    sigs = load_signatures()
    assert len({s.id for s in sigs}) == len(sigs)
    assert all(s.sources and s.cause and s.fix for s in sigs)
