"""Precision of `kubellm lint` on the field corpus: real manifests it was not written against.

usage: python benchmarks/lint_field_corpus.py [--split build|holdout|fresh|all] [--unlabelled] [--by-rule]

Each file of tests/lint/data/field (index.tsv names its public source, commit and split) is linted on
its own, as `kubellm lint FILE` would. Every error and warning finding is looked up in labels.tsv
(true / false / debatable, with a reason), keyed by file, rule, object, container and JSON path.
Precision counts debatable as false; a finding with no label is counted as not true and listed with
--unlabelled (paste the rows into labels.tsv and label them). Also reported: files that crash the
linter, and serving objects (anything that runs containers, or a platform kind that makes pods) that it
skips without reading. The first 54 files were split by a seeded hash of the source repository, fixed before
any rule was changed; rules were built from the `build` part, and the `holdout` part was read after its
figures were taken. The `fresh` part (26 files from 8 further sources) was gathered and labelled later,
against the linter as it stood, before any rule was changed for it.

To reproduce the "before" table, run this script against an older checkout's sources, e.g.
`git worktree add /tmp/before <commit> && PYTHONPATH=/tmp/before/src python benchmarks/lint_field_corpus.py`.
"""

from __future__ import annotations

import argparse
import csv
import sys
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubellm.lint.loader import K8sObject, load_paths
from kubellm.lint.runner import lint_loaded

FIELD = Path(__file__).resolve().parents[1] / "tests/lint/data/field"
LABELS = FIELD / "labels.tsv"
# Kinds that make pods (or configure an engine) on some platform: skipping one means its GPUs,
# models and containers go unchecked. Any other object that spells out containers counts too.
SERVING_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
        "LeaderWorkerSet",
        "InferenceService",
        "ServingRuntime",
        "ClusterServingRuntime",
        "LLMInferenceService",
        "Workspace",
        "InferenceSet",
        "NIMService",
        "NIMCache",
        "DynamoGraphDeployment",
        "Model",
        "RayService",
        "RayCluster",
        "RayJob",
        "RayClusterFleet",
        "ModelAdapter",
    }
)
LABEL_FIELDS = ("file", "rule", "severity", "object", "container", "path", "label", "reason", "run")


@dataclass
class Tally:
    files: int = 0
    objects: int = 0
    crashes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    labels: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    infos: int = 0
    unlabelled: list[dict[str, str]] = field(default_factory=list)
    by_rule: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def precision(self, severity: str) -> str:
        counts = self.labels[severity]
        total = sum(counts.values())
        return f"{100 * counts['true'] / total:.1f} %" if total else "n/a"


def read_index() -> dict[str, str]:
    """file name → split ('build', 'holdout' or 'fresh')."""
    splits: dict[str, str] = {}
    for line in (FIELD / "index.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split("\t")
        splits[cols[0]] = cols[4]
    return splits


def read_labels(run: str = "after") -> dict[tuple[str, ...], dict[str, str]]:
    """Labels by finding key; a row whose `run` is 'before' or 'after' applies to that run only (where a
    finding's worth depends on what else the linter says, e.g. a repeat of another rule's finding)."""
    if not LABELS.exists():
        return {}
    labels: dict[tuple[str, ...], dict[str, str]] = {}
    with LABELS.open(encoding="utf-8") as handle:
        for row in csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t"):
            if (row.get("run") or "all") in ("all", run) and (
                row.get("run") == run or _key(row) not in labels
            ):
                labels[_key(row)] = row
    return labels


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(name) or "") for name in ("file", "rule", "object", "container", "path"))


def _runs_containers(data: Any) -> bool:
    if isinstance(data, dict):
        return any(k in ("containers", "mainContainer") or _runs_containers(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_runs_containers(v) for v in data)
    return False


def _is_serving(obj: K8sObject) -> bool:
    if obj.kind == "Service" and not obj.api_version.startswith("serving.knative.dev/"):
        return False
    return obj.kind in SERVING_KINDS or _runs_containers(obj.spec)


def _unread(objects: list[K8sObject], notes: Iterable[str]) -> list[K8sObject]:
    """Serving objects the linter did not read: skipped by kind, or a pod-making object with no pod."""
    from kubellm.lint.context import LintContext

    skipped = {tuple(n.split(" ")[1:3]) for n in notes if n.startswith("skipped ") and "kind not" in n}
    read = {id(p.obj) for p in LintContext(list(objects)).pods}
    unread = []
    for obj in objects:
        if not _is_serving(obj):
            continue
        if (obj.kind, repr(obj.name)) in skipped or (_runs_containers(obj.spec) and id(obj) not in read):
            unread.append(obj)
    return unread


def run(split: str, which: str = "after") -> Tally:
    splits = read_index()
    labels = read_labels(which)
    tally = Tally()
    for name in sorted(splits):
        if split != "all" and splits[name] != split:
            continue
        path = FIELD / name
        tally.files += 1
        try:
            loaded = load_paths([str(path)])
            result = lint_loaded(loaded)
        except Exception:  # a crash is a measured outcome here, not an error of the script
            tally.crashes.append(f"{name}: {traceback.format_exc(limit=1).splitlines()[-1]}")
            continue
        tally.objects += len(loaded.objects)
        for obj in _unread(loaded.objects, result.notes):
            tally.skipped.append(f"{name}: {obj.kind} {obj.name}")
        for finding in result.findings:
            severity = finding.severity.value
            if severity == "info":
                tally.infos += 1
                continue
            row = {
                "file": name,
                "rule": finding.rule,
                "severity": severity,
                "object": f"{finding.kind}/{finding.name}",
                "container": finding.container or "",
                "path": finding.path,
            }
            label = labels.get(_key(row))
            verdict = label["label"] if label else "unlabelled"
            tally.labels[severity][verdict] += 1
            tally.by_rule[f"{finding.rule} ({severity})"][verdict] += 1
            if label is None:
                tally.unlabelled.append({**row, "label": "", "reason": finding.message, "run": "all"})
    return tally


def _row(name: str, t: Tally) -> str:
    e, w = t.labels["error"], t.labels["warning"]
    return (
        f"| {name} | {t.files} | {t.objects} | {sum(e.values())} | {e['true']}/{e['false']}/{e['debatable']}/"
        f"{e['unlabelled']} | {t.precision('error')} | {sum(w.values())} | {w['true']}/{w['false']}/"
        f"{w['debatable']}/{w['unlabelled']} | {t.precision('warning')} | {t.infos} | {len(t.crashes)} | "
        f"{len(t.skipped)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("build", "holdout", "fresh", "all"), default=None)
    parser.add_argument("--unlabelled", action="store_true", help="print unlabelled findings as TSV rows")
    parser.add_argument("--by-rule", action="store_true", help="true/false/debatable per rule")
    parser.add_argument(
        "--run",
        choices=("before", "after"),
        default="after",
        help="which run-specific labels to use (run 'before' against the sources of the commit before the changes)",
    )
    args = parser.parse_args()
    splits = [args.split] if args.split else ["build", "holdout", "fresh", "all"]
    print(
        "| part | files | objects | errors | T/F/D/unlabelled | error precision | warnings | "
        "T/F/D/unlabelled | warning precision | infos | crashes | serving objects skipped |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    tallies = {s: run(s, args.run) for s in splits}
    for name, tally in tallies.items():
        print(_row(name, tally))
    last = tallies[splits[-1]]
    for line in last.crashes:
        print(f"crash: {line}")
    for line in last.skipped:
        print(f"skipped: {line}")
    if args.by_rule:
        print("\n| rule | true | false | debatable | unlabelled |\n|---|---|---|---|---|")
        for rule, counts in sorted(last.by_rule.items()):
            print(
                f"| {rule} | {counts['true']} | {counts['false']} | {counts['debatable']} | {counts['unlabelled']} |"
            )
    if args.unlabelled:
        writer = csv.DictWriter(sys.stdout, LABEL_FIELDS, delimiter="\t", lineterminator="\n")
        for row in last.unlabelled:
            writer.writerow(row)


if __name__ == "__main__":
    main()
