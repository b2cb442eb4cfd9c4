"""Recall of `kubellm doctor --logs` on the field corpus (tests/cluster/data/field), per engine and category.

Each item is a verbatim error text from a public issue, with its source, engine, the category a correct diagnosis
has and its split. The split is decided by a seeded hash of the source (repository + issue number), so every text of
one issue lands in the same part; signatures are written from the ``build`` part only and ``holdout`` is reported
untouched. An error item counts as recalled when the doctor reports an error-level finding of an expected category
(``unknown`` items: any error-level finding); a healthy item is a false alarm when any error-level finding is reported.

    python benchmarks/doctor_corpus.py            # both splits, per engine and per category
    python benchmarks/doctor_corpus.py --misses   # also list the build split's misses (never the holdout's)
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

FIELD = Path(__file__).resolve().parent.parent / "tests" / "cluster" / "data" / "field"
SPLIT_SEED = "kubellm-doctor-corpus-v1:"
_SOURCE = re.compile(r"https://github\.com/([^/]+/[^/]+)/(?:issues|pull|discussions)/(\d+)")


def source_key(url: str) -> str:
    """'owner/repo#N' for a GitHub issue, pull request or discussion; the URL otherwise."""
    match = _SOURCE.match(url)
    return f"{match.group(1).lower()}#{match.group(2)}" if match else url.split("#")[0].rstrip("/").lower()


def split_of(url: str) -> str:
    """'build' or 'holdout', fixed by a seeded hash of the source (so one issue never straddles both parts)."""
    digest = hashlib.sha256((SPLIT_SEED + source_key(url)).encode()).digest()
    return "build" if digest[0] % 2 == 0 else "holdout"


@dataclass(frozen=True)
class Item:
    path: Path
    source: str
    engine: str
    expect: tuple[str, ...]
    split: str
    text: str

    @property
    def healthy(self) -> bool:
        return self.expect == ("healthy",)


def load_items(root: Path = FIELD) -> list[Item]:
    items = []
    for path in sorted(root.glob("*/*.log")):
        raw = path.read_text(encoding="utf-8")
        header, _, body = raw.partition("# ---\n")
        meta = dict(
            line[2:].split(": ", 1) for line in header.splitlines() if line.startswith("# ") and ": " in line
        )
        items.append(
            Item(
                path=path,
                source=meta["source"],
                engine=meta["engine"],
                expect=tuple(meta["expect"].split(",")),
                split=meta["split"],
                text=body,
            )
        )
    return items


def outcome(item: Item) -> tuple[bool, str]:
    """(correct, what the doctor said) for one item."""
    from kubellm.cluster.doctor import diagnose_text

    findings = [f for f in diagnose_text(item.text, item.path.stem) if f.severity in ("error", "warning")]
    said = ", ".join(f"{f.id}[{f.category}]" for f in findings) or "no finding"
    if item.healthy:
        return not findings, said
    if item.expect == ("unknown",):
        return bool(findings), said
    return any(f.category in item.expect for f in findings), said


def _table(title: str, rows: dict[str, list[bool]]) -> None:
    print(f"\n{title}")
    print(f"  {'':<18} {'n':>4} {'hit':>4} {'recall':>7}")
    for key in sorted(rows):
        hits = rows[key]
        print(f"  {key:<18} {len(hits):>4} {sum(hits):>4} {sum(hits) / len(hits):>7.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--misses", action="store_true", help="list the build split's misses")
    args = parser.parse_args(argv)
    items = load_items()
    bad_split = [i.path.name for i in items if split_of(i.source) != i.split]
    if bad_split:
        print(f"error: recorded split differs from the seeded hash for {bad_split}", file=sys.stderr)
        return 2
    for split in ("build", "holdout"):
        errors = [i for i in items if i.split == split and not i.healthy]
        healthy = [i for i in items if i.split == split and i.healthy]
        by_engine: dict[str, list[bool]] = defaultdict(list)
        by_category: dict[str, list[bool]] = defaultdict(list)
        if not errors:
            print(f"error: no {split} items under {FIELD}", file=sys.stderr)
            return 2
        results = {i.path: outcome(i) for i in errors + healthy}
        for item in errors:
            ok = results[item.path][0]
            by_engine[item.engine].append(ok)
            by_category["|".join(item.expect)].append(ok)
        recall = sum(results[i.path][0] for i in errors) / len(errors)
        alarms = [i for i in healthy if not results[i.path][0]]
        label = (
            "HOLDOUT (no signature written from it)"
            if split == "holdout"
            else "BUILD (signatures written from it)"
        )
        print(
            f"\n=== {label}: recall {recall:.1%} over {len(errors)} error texts; "
            f"false alarms {len(alarms)} of {len(healthy)} healthy logs ==="
        )
        _table("per engine", by_engine)
        _table("per expected category", by_category)
        if args.misses and split == "build":
            print("\nbuild misses:")
            for item in errors + healthy:
                ok, said = results[item.path]
                if not ok:
                    print(f"  {item.path.name}: expected {','.join(item.expect)}, got {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
