"""What `apply --wait` reads besides readiness: a pod the rollout waits for that cannot be scheduled, and what the
prefetch Job's pod is really doing (it downloads only while it runs)."""

from __future__ import annotations

from typing import Any

from kubellm.cluster.events import pod_events
from kubellm.cluster.findings import Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.objects import (
    as_list,
    container_statuses,
    dig,
    gpu_requests,
    labels_of,
    meta,
    name_of,
    ref,
)
from kubellm.cluster.snapshot import ClusterSnapshot

JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")  # set by the Job controller on its pods
# Events that say a node is on its way: cluster-autoscaler (also GKE Autopilot), Karpenter.
SCALE_UP_REASONS = frozenset({"TriggeredScaleUp", "Nominated"})
_BLOCKING_CATEGORIES = frozenset({"scheduling", "runtime", "disk"})


def unschedulable(pod: dict[str, Any]) -> bool:
    """Not bound to a node, and the scheduler said why (PodScheduled False, reason Unschedulable)."""
    if dig(pod, "spec", "nodeName"):
        return False
    return any(
        c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable"
        for c in as_list(dig(pod, "status", "conditions"))
    )


def scale_up_pending(snap: ClusterSnapshot, pod: dict[str, Any]) -> bool:
    """An autoscaler has taken the pod on (a node is being added for it), and did not give up since."""
    verdicts = [
        e.reason for e in pod_events(snap, pod) if e.reason in SCALE_UP_REASONS | {"NotTriggerScaleUp"}
    ]
    return bool(verdicts) and verdicts[-1] in SCALE_UP_REASONS


def _gpus_being_released(snap: ClusterSnapshot) -> bool:
    return any(meta(p).get("deletionTimestamp") and gpu_requests(p) for p in snap.pods)


def blocking_finding(snap: ClusterSnapshot, findings: list[Finding]) -> Finding | None:
    """The first error finding on an unschedulable pod that waiting alone will not fix: no autoscaler is adding
    a node for it, and (for "all GPUs allocated") no GPU pod is on its way out."""
    stuck = {ref(p): p for p in snap.pods if unschedulable(p)}
    for finding in findings:
        pod = stuck.get(finding.object)
        if pod is None or finding.severity != "error" or finding.category not in _BLOCKING_CATEGORIES:
            continue
        if scale_up_pending(snap, pod) or (finding.id == "DOC001" and _gpus_being_released(snap)):
            continue
        return finding
    return None


def rollout_findings(snap: ClusterSnapshot, hints: DoctorHints, findings: list[Finding]) -> list[Finding]:
    """The findings a rollout of this service can fail on: those about its own pods and workloads, its events and
    its logs. A crashing device plugin on some other node, or a NotReady node, is the doctor's to report; it does
    not stop `apply --wait` (a pod that needs that node shows up as unschedulable)."""
    others = {ref(p) for p in snap.pods if not hints.in_scope(p)}
    return [f for f in findings if f.object not in others and not f.object.startswith("Node/")]


def job_pods(snap: ClusterSnapshot, job: dict[str, Any]) -> list[dict[str, Any]]:
    """The Job's pods, oldest first."""
    pods = [p for p in snap.pods if any(labels_of(p).get(k) == name_of(job) for k in JOB_NAME_LABELS)]
    return sorted(pods, key=lambda p: str(meta(p).get("creationTimestamp") or ""))


def prefetch_stage(snap: ClusterSnapshot, job: dict[str, Any]) -> str:
    """What the prefetch Job is doing, from its newest pod: waiting for a node, starting, downloading."""
    pods = job_pods(snap, job)
    if not pods:
        return f"prefetch: job {name_of(job)} waits for its pod"
    pod = pods[-1]
    node = dig(pod, "spec", "nodeName")
    if not node:
        return f"prefetch: pod {name_of(pod)} waits for a node"
    statuses = container_statuses(pod, init=True) + container_statuses(pod)
    if dig(pod, "status", "phase") == "Running" and any(dig(s, "state", "running") for s in statuses):
        return f"prefetch: downloading and verifying the weights (pod {name_of(pod)} on {node})"
    waiting = [
        str(dig(s, "state", "waiting", "reason")) for s in statuses if dig(s, "state", "waiting", "reason")
    ]
    if waiting:
        return f"prefetch: pod {name_of(pod)} on {node}: {waiting[0]}"
    return f"prefetch: pod {name_of(pod)} is bound to {node}, waiting for the node to start it"
