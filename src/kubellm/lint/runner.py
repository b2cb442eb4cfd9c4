"""Run the rules over a manifest set: scopes, suppression, --select/--ignore, sorting."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubellm.catalog import Catalog, GpuSpec
from kubellm.lint.context import LintContext
from kubellm.lint.finding import Finding, Hit, Severity
from kubellm.lint.loader import K8sObject, LoadResult, ParseProblem
from kubellm.lint.platforms import KNOWN_KINDS, kind_key
from kubellm.lint.registry import Rule, all_rules, selected
from kubellm.lint.workload import PodView

IGNORE_ANNOTATION = "kubellm.dev/lint-ignore"
PARSE_RULE = "LINT001"


@dataclass(slots=True)
class LintOptions:
    """What to run: rule selection, the GPU to assume, the catalog to use."""

    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    gpu: GpuSpec | None = None
    catalog: Catalog | None = None


@dataclass(slots=True)
class LintResult:
    """Findings of a run, with what was read and what was skipped."""

    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    objects: int = 0
    notes: list[str] = field(default_factory=list)
    suppressed: int = 0

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def count_errors(self) -> int:
        return self.count(Severity.ERROR)

    def count_warnings(self) -> int:
        return self.count(Severity.WARNING)

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "objects": self.objects,
            "findings": len(self.findings),
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
            "suppressed": self.suppressed,
            "rules": sorted({f.rule for f in self.findings}),
            "notes": list(self.notes),
        }


def _ignored_ids(*annotation_maps: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for mapping in annotation_maps:
        value = mapping.get(IGNORE_ANNOTATION)
        if value:
            ids.extend(
                part.strip().upper() for part in str(value).replace(";", ",").split(",") if part.strip()
            )
    return ids


def _suppressed(rule_id: str, ids: list[str]) -> bool:
    return any(i in ("ALL", "*") or rule_id.startswith(i) for i in ids)


def _finding(rule: Rule, hit: Hit, obj: K8sObject) -> Finding:
    return Finding(
        rule=rule.meta.id,
        severity=hit.severity or rule.meta.severity,
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        container=hit.container,
        path=hit.path,
        file=obj.file,
        line=obj.line_of(hit.path) if hit.path else obj.line,
        message=hit.message,
        fix=rule.meta.fix,
    )


def _parse_finding(problem: ParseProblem) -> Finding:
    return Finding(
        rule=PARSE_RULE,
        severity=Severity.ERROR,
        kind="",
        namespace="",
        name="",
        container=None,
        path="",
        file=problem.file,
        line=problem.line,
        message=problem.message,
        fix="Fix the YAML syntax at that line (indentation, quoting, a stray tab); the other files were still linted.",
    )


def lint_objects(
    objects: list[K8sObject], options: LintOptions | None = None, problems: Iterable[ParseProblem] = ()
) -> LintResult:
    """Lint a manifest set: every selected rule over every pod, object and the set as a whole."""
    options = options or LintOptions()
    result = LintResult(objects=len(objects))
    rules = [r for r in all_rules() if selected(r.meta.id, options.select, options.ignore)]
    for problem in problems:
        if selected(PARSE_RULE, options.select, options.ignore):
            result.findings.append(_parse_finding(problem))
    known = [o for o in objects if kind_key(o) in KNOWN_KINDS]
    for obj in objects:
        if obj not in known:
            result.notes.append(
                f"skipped {obj.kind} {obj.name!r} in {obj.file}: kind not checked by kubellm lint"
            )
    ctx = LintContext(known, options.catalog, options.gpu)
    raw: list[tuple[Rule, Hit, K8sObject, list[str], PodView | None]] = []
    pod_rules = [r for r in rules if r.scope == "pod"]
    object_rules = [r for r in rules if r.scope == "object"]
    set_rules = [r for r in rules if r.scope == "set"]
    for pod in ctx.pods:
        ignored = _ignored_ids(pod.obj.annotations, pod.annotations)
        absent = {"engine": not pod.engines, "gpu": not pod.uses_gpu}
        for rule in pod_rules:
            if (pod.managed and not rule.managed) or (rule.needs is not None and absent[rule.needs]):
                continue
            raw.extend((rule, hit, pod.obj, ignored, pod) for hit in rule.check(pod, ctx))
    for obj in known:
        key = kind_key(obj)
        applicable = [r for r in object_rules if r.kinds is None or key in r.kinds]
        if not applicable:
            continue
        ignored = _ignored_ids(obj.annotations)
        for rule in applicable:
            raw.extend((rule, hit, obj, ignored, None) for hit in rule.check(obj, ctx))
    for rule in set_rules:
        for hit in rule.check(ctx):
            target = hit.obj if isinstance(hit.obj, K8sObject) else None
            if target is None:
                continue
            raw.append(
                (
                    rule,
                    hit,
                    target,
                    _ignored_ids(target.annotations, *_pod_annotations(ctx.pods, target)),
                    hit.pod if isinstance(hit.pod, PodView) else None,
                )
            )
    seen: set[tuple[str, str, str, str, str]] = set()
    # one problem, one finding (see _problem): index and pod of the finding a problem was first seen in
    first: dict[tuple[str, int, str, str], tuple[int, int]] = {}
    repeats: dict[int, int] = {}
    templates = Counter(id(p.obj) for p in ctx.pods)
    for rule, hit, obj, ignored, source in raw:
        if _suppressed(rule.meta.id, ignored):
            result.suppressed += 1
            continue
        finding = _finding(rule, hit, obj)
        identity = (
            finding.rule,
            finding.file,
            f"{finding.kind}/{finding.namespace}/{finding.name}",
            finding.path,
            finding.message,
        )
        if identity in seen:
            continue
        seen.add(identity)
        if source is not None and templates[id(obj)] > 1:
            about = _problem(rule.meta.id, obj, hit, source)
            earlier = first.get(about)
            if earlier is not None and earlier[1] != id(source):
                repeats[earlier[0]] = repeats.get(earlier[0], 0) + 1
                continue
            first.setdefault(about, (len(result.findings), id(source)))
        result.findings.append(finding)
    for index, count in repeats.items():
        finding = result.findings[index]
        more = f" (the same in {count} more pod template{'s' if count > 1 else ''} of this {finding.kind})"
        result.findings[index] = dataclasses.replace(finding, message=finding.message + more)
    result.findings.sort(key=lambda f: (f.file, f.line or 0, f.severity.rank, f.rule, f.path))
    return result


_INDEX = re.compile(r"\[\d+\]")


def _problem(rule_id: str, obj: K8sObject, hit: Hit, pod: PodView) -> tuple[str, int, str, str]:
    """What a finding is about, regardless of which pod template of the object raised it: a
    LeaderWorkerSet's leader and worker, or a RayCluster's worker groups, repeat the same mistake."""
    path = hit.path[len(pod.path) :] if hit.path.startswith(pod.path) else hit.path
    path = _INDEX.sub("[]", path)  # the leader's env[1] is the worker's env[0]
    message = hit.message.replace(repr(hit.container), "…") if hit.container else hit.message
    return rule_id, id(obj), path, message


def _pod_annotations(pods: list[PodView], obj: K8sObject) -> list[dict[str, Any]]:
    return [p.annotations for p in pods if p.obj is obj]


def lint_loaded(loaded: LoadResult, options: LintOptions | None = None) -> LintResult:
    result = lint_objects(loaded.objects, options, loaded.problems)
    result.files = list(dict.fromkeys(loaded.files))
    result.notes[:0] = loaded.notes
    return result
