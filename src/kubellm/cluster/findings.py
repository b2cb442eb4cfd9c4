"""Finding: one thing the doctor found, with the evidence, the cause and the fix.

The JSON form (``Finding.to_json_dict``) is a contract: ``kubellm doctor --json`` prints
``{"findings": [...]}`` with exactly these keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Category = Literal[
    "scheduling",
    "gpu-oom",
    "host-oom",
    "driver",
    "shm",
    "kv-cache",
    "model-access",
    "dtype",
    "probe",
    "disk",
    "runtime",
    "image",
    "network",
    "performance",
    "unknown",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosis. ``id`` is stable (``DOC…`` for checks, ``SIG…`` for log signatures)."""

    id: str
    category: Category
    severity: Severity
    object: str
    evidence: str
    cause: str
    fix: str
    spec_field: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then by object and id; duplicates (same id and object) removed."""
    seen: set[tuple[str, str]] = set()
    unique: list[Finding] = []
    for finding in findings:
        key = (finding.id, finding.object)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return sorted(unique, key=lambda f: (SEVERITY_ORDER[f.severity], f.object, f.id))
