"""Why a pod stays Pending: FailedScheduling messages read against the nodes that exist."""

from __future__ import annotations

import re
from typing import Any

from kubellm.cluster.claims import unbound_claims_finding
from kubellm.cluster.events import EventView, pod_events
from kubellm.cluster.findings import Finding
from kubellm.cluster.gpushortage import gpu_shortage
from kubellm.cluster.objects import (
    GPU_RESOURCE,
    as_list,
    dig,
    gpu_requests,
    is_gpu_resource,
    labels_of,
    ref,
)
from kubellm.cluster.placement import matches_affinity, taint_text, unmet_requirements, untolerated_taints
from kubellm.cluster.snapshot import ClusterSnapshot

_INSUFFICIENT = re.compile(r"Insufficient (\S+?)[.,]?(?:\s|$)")
_TAINT = re.compile(r"(?:untolerated taint|had taint) \{([^}]*)\}")
_UNNAMED_TAINT = re.compile(r"had untolerated taint\(s\)")
_SELECTOR = re.compile(r"didn't match (?:Pod's )?node (?:affinity/selector|selector)")
_CONTROL_PLANE_TAINTS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
_PVC = re.compile(
    r"unbound immediate PersistentVolumeClaims|persistentvolumeclaim \"[^\"]+\" not found", re.I
)


def _scheduling_message(snap: ClusterSnapshot, pod: dict[str, Any]) -> tuple[str, int]:
    """The scheduler's current reason: the PodScheduled condition (rewritten on every attempt), events only as a
    fallback. The scheduler aggregates FailedScheduling events without the message in the key, so a new reason only
    bumps the series count of the old event and its text stays stale; the count is still the number of attempts."""
    failed: list[EventView] = [e for e in pod_events(snap, pod) if e.reason == "FailedScheduling"]
    attempts = sum(e.count for e in failed)
    for cond in as_list(dig(pod, "status", "conditions")):
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("message"):
            return str(cond["message"]), max(attempts, 1)
    if failed:
        return failed[-1].message, attempts
    return "", 0


def _running_gpu_revisions(snap: ClusterSnapshot) -> dict[frozenset[tuple[str, str]], set[str]]:
    """Pod-template hashes of running GPU pods, by their other labels (one entry per Deployment)."""

    def build() -> dict[frozenset[tuple[str, str]], set[str]]:
        index: dict[frozenset[tuple[str, str]], set[str]] = {}
        for pod in snap.pods:
            labels = labels_of(pod)
            if (
                "pod-template-hash" in labels
                and dig(pod, "status", "phase") == "Running"
                and gpu_requests(pod)
            ):
                app = frozenset((k, v) for k, v in labels.items() if k != "pod-template-hash")
                index.setdefault(app, set()).add(labels["pod-template-hash"])
        return index

    return snap.memo("running-gpu-revisions", build)


def _rollout_deadlock(snap: ClusterSnapshot, pod: dict[str, Any]) -> bool:
    """Another revision of the same Deployment runs and holds GPUs."""
    labels = labels_of(pod)
    template_hash = labels.get("pod-template-hash")
    if not template_hash:
        return False
    app = frozenset((k, v) for k, v in labels.items() if k != "pod-template-hash")
    return bool(_running_gpu_revisions(snap).get(app, set()) - {template_hash})


def _untolerated(snap: ClusterSnapshot, pod: dict[str, Any], reasons: str) -> list[str]:
    """'key: value' of the taints that keep the pod off nodes. Older schedulers name them in the message; since
    v1.33 it says only "node(s) had untolerated taint(s)", so they are read from the nodes the pod would otherwise
    match (a taint on a node its selector rules out anyway is not worth tolerating)."""
    named = _TAINT.findall(reasons)
    if not named and _UNNAMED_TAINT.search(reasons):
        named = [
            taint_text(t)[1:-1]
            for node in snap.nodes
            if matches_affinity(pod, node)
            for t in untolerated_taints(pod, node)
        ]
    return [t for t in dict.fromkeys(named) if not t.startswith(_CONTROL_PLANE_TAINTS)]


def diagnose_pending(snap: ClusterSnapshot, pod: dict[str, Any]) -> list[Finding]:
    """Findings for one Pending, unscheduled pod."""
    message, count = _scheduling_message(snap, pod)
    if not message:
        return []
    obj = ref(pod)
    evidence = f"FailedScheduling ×{count}: {message}" if count > 1 else f"FailedScheduling: {message}"
    reasons = message.split("preemption:")[0]
    findings: list[Finding] = []
    wanted = gpu_requests(pod)
    for resource in dict.fromkeys(_INSUFFICIENT.findall(reasons)):
        findings += _insufficient(snap, pod, obj, evidence, resource, wanted)
    taints = _untolerated(snap, pod, reasons)
    if taints:
        keys = [t.split(":")[0].strip() for t in taints]
        tolerations = ", ".join(f"{{key: {k}, operator: Exists, effect: NoSchedule}}" for k in keys)
        findings.append(
            Finding(
                "DOC003",
                "scheduling",
                "error",
                obj,
                evidence,
                f"Nodes carry the taint(s) {', '.join('{' + t + '}' for t in taints)} and the pod does not tolerate them.",
                f"Add toleration(s) for {', '.join(repr(k) for k in keys)}: placement.tolerations: [{tolerations}]."
                if wanted or not any(k.startswith("nvidia.com/") for k in keys)
                else "This pod needs no GPU and the cluster has only tainted GPU nodes: add a small CPU node pool (keeps "
                "GPUs for the engines), or tolerate the taint "
                f"({', '.join(repr(k) for k in keys)}) for it.",
                "placement.tolerations",
            )
        )
    selector_finding = _selector(snap, pod, obj, evidence) if _SELECTOR.search(reasons) else None
    if selector_finding is not None:
        findings.append(selector_finding)
    if _PVC.search(reasons):
        findings.append(unbound_claims_finding(snap, pod, obj, evidence))
    return findings


def _insufficient(
    snap: ClusterSnapshot, pod: dict[str, Any], obj: str, evidence: str, resource: str, wanted: dict[str, int]
) -> list[Finding]:
    if not is_gpu_resource(resource):
        return [
            Finding(
                "DOC005",
                "scheduling",
                "error",
                obj,
                evidence,
                f"No node has enough free {resource} for the pod's request.",
                f"Lower the pod's {resource} request or add larger nodes; on GPU nodes, the engine's host memory request "
                "must fit next to the system daemons.",
                None,
            )
        ]
    count = wanted.get(resource, wanted.get(GPU_RESOURCE, 0))
    return gpu_shortage(snap, pod, obj, evidence, resource, count, _rollout_deadlock(snap, pod))


def _selector(snap: ClusterSnapshot, pod: dict[str, Any], obj: str, evidence: str) -> Finding | None:
    """A finding when no node meets the pod's node selector and required node affinity; None when some node does
    (then the mismatching nodes are ones the pod is meant to skip, e.g. CPU nodes)."""
    unmatched = unmet_requirements(pod, snap.nodes) if snap.nodes else []
    if unmatched is None:
        return None
    gpu_key = any(
        k in u for u in unmatched for k in ("nvidia.com/gpu.product", "accelerator", "instance-gpu-name")
    )
    detail = "; ".join(unmatched) if unmatched else "the node selector or required node affinity"
    return Finding(
        "DOC004",
        "scheduling",
        "error",
        obj,
        evidence,
        f"No node matches {detail}.",
        "Set gpu.type to a GPU the cluster has (the product label is derived from it)"
        if gpu_key
        else "Fix placement.node_selector (or placement.spot) to labels nodes carry (kubectl get nodes --show-labels).",
        "gpu.type" if gpu_key else "placement.node_selector",
    )


def pending_pods(snap: ClusterSnapshot, pods: list[dict[str, Any]]) -> list[Finding]:
    findings: list[Finding] = []
    for pod in pods:
        if dig(pod, "status", "phase") == "Pending" and not dig(pod, "spec", "nodeName"):
            findings.extend(diagnose_pending(snap, pod))
    return findings
