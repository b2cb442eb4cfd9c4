"""The doctor's pure core: a ClusterSnapshot (and hints) in, sorted findings out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubellm.cluster.containers import (
    eviction,
    log_findings,
    oom_kills,
    owner_problems,
    probe_kills,
    waiting_problems,
)
from kubellm.cluster.findings import Finding, sort_findings
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.logdiagnosis import match_log
from kubellm.cluster.objects import as_list, name_of, pod_spec
from kubellm.cluster.performance import check_performance
from kubellm.cluster.readiness import check_readiness
from kubellm.cluster.scheduling import pending_pods
from kubellm.cluster.scope import workload_pods
from kubellm.cluster.snapshot import ClusterSnapshot

if TYPE_CHECKING:
    from kubellm.planning import Plan


def _max_num_seqs(pods: list[dict[str, Any]]) -> int | None:
    for pod in pods:
        for container in as_list(pod_spec(pod).get("containers")):
            args = [
                str(a)
                for key in ("command", "args")
                if isinstance(container.get(key), list)
                for a in container[key]
            ]
            for i, arg in enumerate(args):
                if arg.startswith("--max-num-seqs="):
                    value = arg.split("=", 1)[1]
                    return int(value) if value.isdigit() else None
                if arg == "--max-num-seqs" and i + 1 < len(args) and args[i + 1].isdigit():
                    return int(args[i + 1])
    return None


def _unattached_logs(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    """Logs that belong to no pod in the snapshot (e.g. `doctor --logs FILE`, or a dump without pods.json)."""
    known = {name_of(p) for p in snap.pods}
    findings = []
    for key, text in sorted(snap.logs.items()):
        pod = key.partition("/")[2].partition("/")[0]
        if pod not in known:
            findings.extend(match_log(text, f"log/{pod}", plan=hints.plan))
    return findings


def diagnose(snap: ClusterSnapshot, hints: DoctorHints | None = None) -> list[Finding]:
    """Every finding for the snapshot: cluster readiness, then each pod in scope, then performance."""
    hints = hints or DoctorHints()
    pods = workload_pods(snap, hints)
    findings: list[Finding] = [
        *check_readiness(snap, hints),
        *pending_pods(snap, pods),
        *owner_problems(snap, hints),
    ]
    for pod in pods:
        findings += oom_kills(pod, hints)
        findings += eviction(pod)
        findings += waiting_problems(snap, pod, hints)
        findings += probe_kills(snap, pod, hints)
        findings += log_findings(snap, pod, hints)
    findings += _unattached_logs(snap, hints)
    findings += check_performance(snap.metrics, hints, _max_num_seqs(pods))
    return sort_findings(findings)


def diagnose_log(text: str, name: str = "log", plan: Plan | None = None) -> list[Finding]:
    """Findings for a log alone (`kubellm doctor --logs FILE`); with the spec's ``plan``, planner-computed fixes."""
    return sort_findings(match_log(text, f"log/{name}", plan=plan))


def diagnose_text(text: str, name: str = "log", plan: Plan | None = None) -> list[Finding]:
    """Findings for pasted text of any kind: kubectl output goes to the cluster diagnosers, anything else is a log."""
    from kubellm.cluster.pasted import snapshot_from_text

    snap = snapshot_from_text(text)
    if snap is None:
        return diagnose_log(text, name, plan)
    found = diagnose(snap, DoctorHints(plan=plan))
    return found or diagnose_log(text, name, plan)
