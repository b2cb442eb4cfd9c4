"""A log in, findings out: root cause first, then the signature families, then the numbers the text gives.

Layers, in order: the text is unframed (``logtext``); the root-cause line is the last exception raised, else the
first failure line; signatures (data, each with its sources) match only lines the log did not mark INFO/DEBUG, so a
progress line that mentions "out of memory" never fires; fallback signatures count only when nothing specific
matched; and a log that shows a failure nothing explains gets an ``unknown`` finding that quotes its root-cause line
instead of "no problems found". vLLM's periodic stats lines become a performance finding when requests queue.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from kubellm.cluster.findings import Finding
from kubellm.cluster.logtext import LogLine, failure_lines, log_lines
from kubellm.cluster.planfix import kv_cache_fix
from kubellm.cluster.signatures import Signature, load_signatures
from kubellm.cluster.stats import stats_findings

if TYPE_CHECKING:
    from kubellm.planning import Plan

_MAX_EVIDENCE = 300
_EXCEPTION = re.compile(r"^(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Failure)\b(?::|\s*$)")
_ADVISORY = re.compile(
    r"might be|may be|can be (?:safely )?ignored|sub-?optimal|falling back|fall back|using (?:the )?default|"
    r"is deprecated|will be (?:used|ignored)|you can create|if this is not intended",
    re.I,
)
_NOISE = re.compile(
    r"^(?:File \"|\^+$|~+|Traceback \(most recent call last\)|During handling|The above exception)"
)
_FIT_V1 = re.compile(r"estimated maximum model length is (\d[\d,]*)", re.I)
_FIT_V0 = re.compile(r"maximum number of tokens that can be stored in KV cache \((\d[\d,]*)\)", re.I)
_MAX_SEQ = re.compile(r"max seq len \((\d[\d,]*)\)", re.I)


def evidence(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MAX_EVIDENCE else text[: _MAX_EVIDENCE - 1] + "…"


def root_cause(lines: list[LogLine]) -> LogLine | None:
    """The last exception raised (Python's 'During handling' chains end with the one that matters), else the first
    failure line; None when the log shows no failure."""
    failures = [
        line
        for line in failure_lines(lines)
        if not _NOISE.match(line.message) and not _ADVISORY.search(line.message)
    ]
    exceptions = [line for line in failures if _EXCEPTION.match(line.message)]
    wrappers = ("Engine core initialization failed", "EngineCore failed to start", "ChildFailedError")
    specific = [line for line in exceptions if not any(w in line.message for w in wrappers)]
    if specific:
        return specific[-1]
    return failures[0] if failures else (exceptions[-1] if exceptions else None)


def _best_lines(sigs: list[Signature], lines: list[LogLine]) -> dict[str, tuple[int, LogLine]]:
    best: dict[str, tuple[int, LogLine]] = {}
    for line in lines:
        for sig in sigs:
            if sig.scope == "error" and line.quiet:
                continue
            rank = sig.pattern_rank(line.message)
            if rank is not None and (sig.id not in best or rank < best[sig.id][0]):
                best[sig.id] = (rank, line)
    return best


def _fit_fix(sig: Signature, text: str, plan: Plan | None) -> str:
    """The kv-cache fix with the numbers the engine printed and, with the spec's plan, the planner's."""
    if sig.category != "kv-cache":
        return sig.fix
    fit_match = _FIT_V1.search(text) or _FIT_V0.search(text)
    wanted = _MAX_SEQ.search(text)
    fit = int(fit_match.group(1).replace(",", "")) if fit_match else None
    asked = int(wanted.group(1).replace(",", "")) if wanted else None
    return kv_cache_fix(fit, asked, plan) or sig.fix


def match_log(
    text: str, obj: str, signatures: tuple[Signature, ...] | None = None, plan: Plan | None = None
) -> list[Finding]:
    """Findings for a log: matched signatures (root cause first), stats-line performance, or one ``unknown``.
    With the spec's ``plan``, kv-cache fixes carry the planner's figures."""
    lines = log_lines(text)
    all_sigs = signatures if signatures is not None else load_signatures()
    lowered = "\n".join(line.message for line in lines).lower()
    sigs = [sig for sig in all_sigs if sig.may_match(lowered)]
    best = _best_lines(sigs, lines)
    specific = [s for s in sigs if s.id in best and not s.fallback]
    chosen = specific or [s for s in sigs if s.id in best]
    cause = root_cause(lines)
    findings = [
        Finding(
            id=s.id,
            category=s.category,
            severity=s.severity,
            object=obj,
            evidence=evidence(best[s.id][1].message),
            cause=s.cause,
            fix=_fit_fix(s, lowered, plan),
            spec_field=s.spec_field,
        )
        for s in sorted(chosen, key=lambda s: (best[s.id][1] is not cause, best[s.id][1].number))
    ]
    findings += stats_findings(lines, obj)
    if not findings and cause is not None:
        findings.append(_unknown(obj, cause))
    return findings


def _unknown(obj: str, cause: LogLine) -> Finding:
    return Finding(
        "SIG999",
        "unknown",
        "error",
        obj,
        evidence(cause.message),
        "The log shows a failure that no known signature explains; the quoted line is its root cause as far as the "
        "log goes (the last exception raised, or the first error line).",
        "Search the engine's issue tracker for the quoted line; if the log was cut, capture the whole previous run "
        "(kubectl logs --previous) and run kubellm doctor --logs on it.",
        None,
    )


def with_object(findings: list[Finding], obj: str) -> list[Finding]:
    return [replace(f, object=obj) for f in findings]
