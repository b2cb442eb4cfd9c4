"""Why a pod's GPU request fits no node: reasoned over the nodes the pod may use, never over all nodes.

"Insufficient nvidia.com/gpu" counts only nodes that passed the taint, selector and affinity filters. Taking the
largest node of the whole cluster turns "more GPUs than any node this pod may use has" into "all GPUs allocated";
a labelled GPU node whose device plugin is down would read as a wrong GPU type. Each case gets its own finding.
"""

from __future__ import annotations

from typing import Any

from kubellm.cluster.deviceplugin import device_plugin_finding, plugin_down
from kubellm.cluster.findings import Finding, Severity
from kubellm.cluster.objects import labels_of, name_of, node_gpus
from kubellm.cluster.placement import eligible_nodes, exclusion
from kubellm.cluster.snapshot import ClusterSnapshot

_MAX_NAMED = 3


def _excluded_with_gpus(
    pod: dict[str, Any], nodes: list[dict[str, Any]], resource: str, at_least: int
) -> list[tuple[dict[str, Any], int, str]]:
    """(node, GPUs, why it is ruled out) for nodes the filters exclude that have ≥ at_least of the resource."""
    out = []
    for node in nodes:
        size = node_gpus(node).get(resource, 0)
        why = exclusion(pod, node) if size >= max(at_least, 1) else None
        if why is not None:
            out.append((node, size, why))
    return sorted(out, key=lambda item: -item[1])


def _labelled_count(node: dict[str, Any]) -> int | None:
    value = labels_of(node).get("nvidia.com/gpu.count", "")
    return int(value) if value.isdigit() else None


def _named(excluded: list[tuple[dict[str, Any], int, str]]) -> str:
    text = "; ".join(
        f"{name_of(n)} has {size} but is ruled out: {why}" for n, size, why in excluded[:_MAX_NAMED]
    )
    return text + (f" (+{len(excluded) - _MAX_NAMED} more)" if len(excluded) > _MAX_NAMED else "")


def _steps(why: str) -> list[tuple[str, str]]:
    """The spec changes that let the pod onto one node, from why it is ruled out."""
    steps: list[tuple[str, str]] = []
    if any(key in why for key in ("gpu.product", "accelerator", "instance-type", "instance-gpu-name")):
        steps.append(("choose its GPU type (gpu.type)", "gpu.type"))
    elif "does not match" in why:
        steps.append(("change placement.node_selector to match it", "placement.node_selector"))
    if "taint" in why:
        steps.append(("tolerate its taint (placement.tolerations)", "placement.tolerations"))
    if "cordoned" in why:
        steps.append(("uncordon it (kubectl uncordon)", steps[0][1] if steps else "placement.node_selector"))
    return steps


def _placement_fix(excluded: list[tuple[dict[str, Any], int, str]]) -> tuple[str, str]:
    """How to let the pod onto the bigger node that needs the fewest changes, and the spec field of the first."""
    node, _, why = min(excluded, key=lambda item: len(_steps(item[2])))
    steps = _steps(why) or [("change its placement", "placement.node_selector")]
    return f"{' and '.join(text for text, _ in steps)} to run on {name_of(node)}", steps[0][1]


def gpu_shortage(
    snap: ClusterSnapshot,
    pod: dict[str, Any],
    obj: str,
    evidence: str,
    resource: str,
    count: int,
    deadlock: bool,
) -> list[Finding]:
    """Findings for 'Insufficient <GPU resource>' on a pod that wants ``count`` of it."""
    # The message says some node passed the filters; if our reading rules out every node, trust the scheduler.
    eligible = eligible_nodes(pod, snap.nodes) or snap.nodes
    ruled_out = [n for n in snap.nodes if all(n is not e for e in eligible)]
    sizes = [node_gpus(n).get(resource, 0) for n in eligible]
    most = max(sizes, default=0)
    dead = [n for n in eligible if plugin_down(n)]
    # Dead nodes that would hold the pod once their plugin runs (GFD's gpu.count label; no label: maybe).
    could_hold = [n for n in dead if (_labelled_count(n) or count) >= count]
    findings: list[Finding] = []
    if could_hold:  # dead nodes too small for the pod are left to the readiness check (DOC101)
        severity: Severity = "error" if most < max(count, 1) else "warning"
        findings.append(
            device_plugin_finding(snap, could_hold, severity, obj=obj, evidence=evidence, finding_id="DOC008")
        )
        if severity == "error":
            return findings
    if snap.nodes and most == 0:
        excluded = _excluded_with_gpus(pod, ruled_out, resource, 1)
        if excluded:
            how, field = _placement_fix(excluded)
            findings.append(
                Finding(
                    "DOC009",
                    "scheduling",
                    "error",
                    obj,
                    evidence,
                    f"None of the nodes this pod may use has {resource}; the nodes that have it are ruled out by the "
                    f"pod's placement: {_named(excluded)}.",
                    f"{how[0].upper()}{how[1:]}.",
                    field,
                )
            )
            return findings
        findings.append(
            Finding(
                "DOC007",
                "scheduling",
                "error",
                obj,
                evidence,
                f"No node advertises {resource}: there are no such GPU nodes, or the device plugin does not run on "
                "them.",
                "Add GPU nodes of this type, or install/repair the NVIDIA device plugin (GPU Operator); for MIG "
                "slices enable MIG with the mixed strategy.",
                "gpu.type",
            )
        )
        return findings
    if snap.nodes and count > most:
        excluded = _excluded_with_gpus(pod, ruled_out, resource, count)
        also = ""
        field = "gpu.count"
        if excluded:
            how, field = _placement_fix(excluded)
            also = f" Nodes with enough exist but the pod's placement rules them out: {_named(excluded)}."
            how = f", or {how}"
        else:
            how = ""
        findings.append(
            Finding(
                "DOC002",
                "scheduling",
                "error",
                obj,
                evidence,
                f"The pod asks for {count} {resource} but no node it may run on has more than {most} "
                f"({len(eligible)} such node(s)).{also}",
                f"Use at most {most} GPUs per pod (a GPU with more memory, a quantized model, or pipeline parallel "
                f"across nodes with gpu.nodes > 1){how}.",
                field,
            )
        )
        return findings
    if deadlock:
        findings.append(
            Finding(
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
        )
        return findings
    findings.append(
        Finding(
            "DOC001",
            "scheduling",
            "error",
            obj,
            evidence,
            f"Every node this pod may use that has {resource} has it allocated to other pods ({count} needed, "
            f"node sizes: {', '.join(str(n) for n in sizes if n) or 'unknown'}).",
            "Free GPUs (scale other GPU workloads down), add GPU nodes or enable the cluster autoscaler for the GPU "
            "pool; lower scaling.max_replicas to what the pool can hold.",
            "scaling.max_replicas",
        )
    )
    return findings
