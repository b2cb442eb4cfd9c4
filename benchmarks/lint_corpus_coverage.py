"""Which of the GPU/LLM mistakes present in the corpus does `kubellm lint` flag?

usage: python benchmarks/lint_corpus_coverage.py [CORPUS_DIR] [GPU_MISTAKES_TSV]

Defaults: tests/lint/data/corpus and tests/lint/data/gpu_mistakes.tsv (copies of the project's real
manifest corpus and of the per-file mistake list made by reading each file against the research
notes). Each corpus file is linted on its own. A mistake (file, M-id) counts as caught when a finding
in that file comes from a rule whose metadata lists that M-id (GPU005 lists M1, M2 and M27, …), on
the object kind the list names for custom resources and ConfigMaps.
Prints one row per mistake (caught or missed, by which rule, with the message) and the totals.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

from kubellm.lint.loader import load_paths
from kubellm.lint.registry import all_rules
from kubellm.lint.runner import lint_loaded

ROOT = Path(__file__).resolve().parents[1]


def _same_object(kind: str, where: str) -> bool:
    """The TSV's 'where' names a kind for custom resources and ConfigMaps; the finding must be on it."""
    if where.startswith("kind:"):
        return kind == where.removeprefix("kind:")
    if where == "ConfigMap":
        return kind == "ConfigMap"
    return True


def main() -> None:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/lint/data/corpus"
    tsv = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests/lint/data/gpu_mistakes.tsv"
    rows = [
        line.rstrip("\n").split("\t")
        for line in tsv.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    rules_for: dict[str, set[str]] = defaultdict(set)
    for r in all_rules():
        for mistake in r.meta.mistakes:
            rules_for[mistake].add(r.meta.id)
    findings = {}
    t0 = time.perf_counter()
    for path in sorted(corpus.glob("*.yaml")):
        findings[path.name] = lint_loaded(load_paths([str(path)])).findings
    elapsed = time.perf_counter() - t0
    retired_tsv = tsv.with_name("gpu_mistakes_retired.tsv")
    retired = {
        tuple(line.split("\t")[:2]): line.split("\t")[2]
        for line in (retired_tsv.read_text().splitlines() if retired_tsv.exists() else [])
        if line and not line.startswith("#")
    }
    caught = 0
    print("| file | mistake | checkov | kubellm | rule: message |")
    print("|---|---|---|---|---|")
    missed: list[str] = []
    for file, mistake, _sev, where, checkov, evidence in rows:
        hits = [
            f for f in findings.get(file, []) if f.rule in rules_for[mistake] and _same_object(f.kind, where)
        ]
        checkov_mark = "yes" if checkov != "-" else "no"
        if hits:
            caught += 1
            detail = f"{hits[0].rule}: {hits[0].message[:90]}"
            print(f"| {file[:45]} | {mistake} | {checkov_mark} | caught | {detail} |")
        elif (file, mistake) in retired:
            print(f"| {file[:45]} | {mistake} | {checkov_mark} | retired | {retired[(file, mistake)][:90]} |")
        else:
            missed.append(f"{file} {mistake}: {evidence}")
            print(f"| {file[:45]} | {mistake} | {checkov_mark} | MISSED | {evidence[:90]} |")
    total = len(rows)
    checkov_total = sum(1 for row in rows if row[4] != "-")
    print(
        f"\nkubellm flags {caught} of {total} GPU/LLM mistakes ({100 * caught / total:.1f} %), and leaves "
        f"{len(retired)} unflagged on purpose (retired as false positives, with reasons); "
        f"checkov flags {checkov_total} of {total} ({100 * checkov_total / total:.1f} %)."
    )
    print(f"linting {len(findings)} corpus files one by one took {elapsed:.2f} s in-process")
    for line in missed:
        print(f"missed: {line}")


if __name__ == "__main__":
    main()
