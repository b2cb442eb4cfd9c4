"""Findings and rule metadata: the data every rule, output writer and doc generator shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a finding is; ``error`` fails the lint run, ``warning`` fails it only with --strict."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Hit:
    """What a rule function reports: the concrete message and where, relative to the object."""

    message: str
    path: str = ""
    container: str | None = None
    obj: Any = None  # a K8sObject when a set-scoped rule reports on a specific object
    severity: Severity | None = None  # overrides the rule's default (rarely)
    pod: Any = None  # the PodView a set-scoped rule reports on, so repeats across templates merge


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one object, with everything a person needs to find and fix it."""

    rule: str
    severity: Severity
    kind: str
    namespace: str
    name: str
    container: str | None
    path: str
    file: str
    line: int | None
    message: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "container": self.container,
            "path": self.path,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """Everything said about a rule in the docs and in ``--explain``; ``id`` is stable forever."""

    id: str
    name: str
    severity: Severity
    title: str
    why: str
    fix: str
    bad: str = ""
    good: str = ""
    mistakes: tuple[str, ...] = field(default=())  # M-ids of research/lint.md this rule catches
    sources: tuple[str, ...] = field(default=())

    @property
    def family(self) -> str:
        return "".join(ch for ch in self.id if ch.isalpha())
