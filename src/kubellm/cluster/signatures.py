"""The error-signature database (``data/signatures.yaml``): known failures, the text that shows them, cause and fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, cast

import yaml

from kubellm.cluster.findings import CATEGORIES, Category, Severity


@dataclass(frozen=True, slots=True)
class Signature:
    """One known failure: the log lines that show it, its cause and its fix."""

    id: str
    category: Category
    severity: Severity
    patterns: tuple[re.Pattern[str], ...]
    unless: re.Pattern[str] | None
    cause: str
    fix: str
    spec_field: str | None
    sources: tuple[str, ...]
    fallback: bool = False
    scope: Literal["error", "any"] = "error"  # "error": only lines not logged at INFO/DEBUG level
    screens: tuple[re.Pattern[str], ...] = ()  # the patterns lower-cased, for a quick case-sensitive scan

    def may_match(self, lowered_text: str) -> bool:
        """Whether any pattern can match somewhere in the lower-cased text (no per-line work)."""
        return any(screen.search(lowered_text) for screen in self.screens)

    def pattern_rank(self, line: str) -> int | None:
        """Index of the first pattern the line matches (patterns go from most to least telling), or None."""
        if self.unless is not None and self.unless.search(line):
            return None
        for index, pattern in enumerate(self.patterns):
            if pattern.search(line):
                return index
        return None

    def match_line(self, line: str) -> bool:
        return self.pattern_rank(line) is not None


def _signature(entry: dict[str, Any]) -> Signature:
    category = entry["category"]
    if category not in CATEGORIES:
        raise ValueError(f"signature {entry['id']}: unknown category {category!r}")
    unless = entry.get("unless")
    return Signature(
        id=entry["id"],
        category=cast(Category, category),
        severity=cast(Severity, entry["severity"]),
        patterns=tuple(re.compile(p, re.IGNORECASE) for p in entry["patterns"]),
        unless=re.compile(unless, re.IGNORECASE) if unless else None,
        cause=entry["cause"],
        fix=entry["fix"],
        spec_field=entry.get("spec_field"),
        sources=tuple(str(s) for s in entry.get("sources", ())),
        fallback=bool(entry.get("fallback", False)),
        scope="any" if entry.get("scope") == "any" else "error",
        screens=tuple(re.compile(_lower_pattern(p), re.MULTILINE) for p in entry["patterns"]),
    )


def _lower_pattern(pattern: str) -> str:
    """The regex lower-cased, escapes (\\S, \\d, \\() left as they are."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
        else:
            out.append(pattern[i].lower())
            i += 1
    return "".join(out)


@lru_cache(maxsize=1)
def load_signatures() -> tuple[Signature, ...]:
    """Every signature of the packaged database, in file order."""
    text = resources.files("kubellm.cluster").joinpath("data/signatures.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return tuple(_signature(entry) for entry in data["signatures"])


StartupPhase = Literal["download", "load", "serving"]

_PHASES: tuple[tuple[StartupPhase, re.Pattern[str]], ...] = (
    (
        "serving",
        re.compile(
            r"Application startup complete|Uvicorn running on|Started server process|Connected$", re.I
        ),
    ),
    (
        "load",
        re.compile(
            r"Starting to load model|Loading safetensors checkpoint shards|Loading weights took|"
            r"Model loading took|Capturing CUDA graph|Memory profiling takes|GPU KV cache size",
            re.I,
        ),
    ),
    (
        "download",
        re.compile(
            r"Downloading|Fetching \d+ files|model-\d+-of-\d+\.safetensors.*\d+%|\.safetensors:\s+\d+%|"
            r"Download(ing)? shard|hf_transfer|Using model weights format",
            re.I,
        ),
    ),
)


def startup_phase(text: str) -> StartupPhase | None:
    """The last startup phase the log shows: download, load, serving (None when the log says nothing)."""
    last: StartupPhase | None = None
    for line in text.splitlines():
        for phase, pattern in _PHASES:
            if pattern.search(line):
                last = phase
                break
    return last
