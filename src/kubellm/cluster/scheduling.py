"""Why a pod stays Pending: FailedScheduling messages read against the nodes that exist."""

from __future__ import annotations

import re
from typing import Any

from kubellm.cluster.events import EventView, pod_events
from kubellm.cluster.findings import Finding
from kubellm.cluster.objects import (
    GPU_RESOURCE,
    as_dict,
    as_list,
    dig,
    gpu_requests,
    is_gpu_resource,
    labels_of,
    node_gpus,
    pod_spec,
    ref,
)
from kubellm.cluster.snapshot import ClusterSnapshot

_INSUFFICIENT = re.compile(r"Insufficient (\S+?)[.,]?(?:\s|$)")
_TAINT = re.compile(r"(?:untolerated taint|had taint) \{([^}]*)\}")
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


def _gpus_per_node(snap: ClusterSnapshot) -> list[dict[str, int]]:
    return snap.memo("gpus-per-node", lambda: [node_gpus(n) for n in snap.nodes])


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
        findings.append(_insufficient(snap, pod, obj, evidence, resource, wanted))
    taints = [t for t in dict.fromkeys(_TAINT.findall(reasons)) if not t.startswith(_CONTROL_PLANE_TAINTS)]
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
        findings.append(
            Finding(
                "DOC006",
                "disk",
                "error",
                obj,
                evidence,
                "The model-cache PersistentVolumeClaim is not bound: no StorageClass provisions its size and access "
                "mode (ReadWriteMany needs a file storage class such as NFS, Filestore or EFS).",
                "kubectl describe pvc -n <ns>; set storage.storage_class to a class that supports the access mode, or "
                "storage.access_mode: ReadWriteOnce.",
                "storage.storage_class",
            )
        )
    return findings


def _insufficient(
    snap: ClusterSnapshot, pod: dict[str, Any], obj: str, evidence: str, resource: str, wanted: dict[str, int]
) -> Finding:
    if not is_gpu_resource(resource):
        return Finding(
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
    count = wanted.get(resource, wanted.get(GPU_RESOURCE, 0))
    per_node = [gpus.get(resource, 0) for gpus in _gpus_per_node(snap)]
    most = max(per_node, default=0)
    if snap.nodes and most == 0:
        return Finding(
            "DOC007",
            "scheduling",
            "error",
            obj,
            evidence,
            f"No node advertises {resource}: there are no such GPU nodes, or the device plugin does not run on them.",
            "Add GPU nodes of this type, or install/repair the NVIDIA device plugin (GPU Operator); for MIG slices "
            "enable MIG with the mixed strategy.",
            "gpu.type",
        )
    if snap.nodes and count > most:
        return Finding(
            "DOC002",
            "scheduling",
            "error",
            obj,
            evidence,
            f"The pod asks for {count} {resource} but no node has more than {most}.",
            f"Use at most {most} GPUs per pod (a GPU with more memory, a quantized model, or pipeline parallel across "
            "nodes with gpu.nodes > 1).",
            "gpu.count",
        )
    if _rollout_deadlock(snap, pod):
        return Finding(
            "DOC043",
            "scheduling",
            "error",
            obj,
            evidence,
            "Rollout deadlock: the new pod waits for GPUs that the old pod of the same Deployment still holds "
            "(RollingUpdate with maxSurge ≥ 1 on fully booked GPU nodes).",
            "Use strategy Recreate or RollingUpdate with maxSurge: 0, maxUnavailable: 1 (kubellm renders this); "
            "to unblock now: kubectl rollout undo, or scale the old ReplicaSet down.",
            None,
        )
    return Finding(
        "DOC001",
        "scheduling",
        "error",
        obj,
        evidence,
        f"Every node that has {resource} has it allocated to other pods ({count} needed, node sizes: "
        f"{', '.join(str(n) for n in per_node if n) or 'unknown'}).",
        "Free GPUs (scale other GPU workloads down), add GPU nodes or enable the cluster autoscaler for the GPU pool; "
        "lower scaling.max_replicas to what the pool can hold.",
        "scaling.max_replicas",
    )


def _expression_matches(labels: dict[str, str], expr: dict[str, Any]) -> bool:
    """One nodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt) against a node's labels."""
    key, op = str(expr.get("key", "")), expr.get("operator")
    values = [str(v) for v in expr.get("values") or []] if isinstance(expr.get("values"), list) else []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if (
        op in ("Gt", "Lt")
        and values
        and labels.get(key, "").lstrip("-").isdigit()
        and values[0].lstrip("-").isdigit()
    ):
        have, bound = int(labels[key]), int(values[0])
        return have > bound if op == "Gt" else have < bound
    return False


def _describe(expr: dict[str, Any], nodes: list[dict[str, Any]]) -> str:
    key = str(expr.get("key", ""))
    present = sorted({labels_of(n)[key] for n in nodes if key in labels_of(n)})
    values = (
        ",".join(str(v) for v in expr.get("values") or []) if isinstance(expr.get("values"), list) else ""
    )
    if expr.get("from_selector"):
        wanted = f"{key}={values}"
    else:
        wanted = f"{key} {expr.get('operator')} [{values}]" if values else f"{key} {expr.get('operator')}"
    return f"{wanted} (nodes have: {', '.join(present) or 'no such label'})"


def _unmatched_terms(pod: dict[str, Any], nodes: list[dict[str, Any]]) -> list[str] | None:
    """None when some node satisfies the selector and the required affinity; else the terms no node meets."""
    spec = pod_spec(pod)
    selector = as_dict(spec.get("nodeSelector"))
    required = as_list(
        dig(
            spec,
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        )
    )
    terms = [as_list(t.get("matchExpressions")) for t in required] or [[]]
    selector_exprs = [
        {"key": k, "operator": "In", "values": [v], "from_selector": True} for k, v in selector.items()
    ]
    for term in terms:
        exprs = selector_exprs + term
        if any(all(_expression_matches(labels_of(n), e) for e in exprs) for n in nodes):
            return None
    # No node fits: name the requirements that no node meets on their own (of the first term).
    exprs = selector_exprs + terms[0]
    failing = [e for e in exprs if not any(_expression_matches(labels_of(n), e) for n in nodes)]
    return [_describe(e, nodes) for e in failing]


def _selector(snap: ClusterSnapshot, pod: dict[str, Any], obj: str, evidence: str) -> Finding | None:
    """A finding when no node meets the pod's node selector and required node affinity; None when some node does
    (then the mismatching nodes are ones the pod is meant to skip, e.g. CPU nodes)."""
    unmatched = _unmatched_terms(pod, snap.nodes) if snap.nodes else []
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
        evidence + (f" — no node matches {detail}" if unmatched else ""),
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
