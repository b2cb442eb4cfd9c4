"""Per-node device-plugin state: a node labelled as a GPU node that advertises no GPU resource.

GPU feature discovery (or the cloud) labels a GPU node; the NVIDIA device plugin, one DaemonSet pod per node,
registers ``nvidia.com/gpu`` (or MIG slices) with the kubelet, which then shows them in the node's capacity and
allocatable. A labelled node without the resource is a node whose device plugin does not run (or never
registered) — its GPU type is right, the scheduler just cannot see its GPUs.
"""

from __future__ import annotations

from typing import Any

from kubellm.cluster.findings import Finding, Severity
from kubellm.cluster.objects import container_statuses, dig, labels_of, name_of, namespace_of, node_gpus, ref
from kubellm.cluster.snapshot import ClusterSnapshot

GPU_LABEL_PREFIXES = ("nvidia.com/gpu.present", "nvidia.com/gpu.product", "nvidia.com/gpu.deploy")
CLOUD_GPU_LABELS = ("cloud.google.com/gke-accelerator", "k8s.amazonaws.com/accelerator", "accelerator")
PLUGIN_POD_PREFIXES = ("nvidia-device-plugin", "nvidia-gpu-device-plugin")


def gpu_labelled(node: dict[str, Any]) -> bool:
    """GFD or cloud labels that say the node has NVIDIA GPUs (a label set to 'false' does not count)."""
    return any(
        (k.startswith(GPU_LABEL_PREFIXES) or k in CLOUD_GPU_LABELS) and v.lower() != "false"
        for k, v in labels_of(node).items()
    )


def advertises_gpus(node: dict[str, Any]) -> bool:
    return any(node_gpus(node, "capacity").values()) or any(node_gpus(node).values())


def plugin_down(node: dict[str, Any]) -> bool:
    """Labelled as a GPU node, yet no GPU resource in capacity or allocatable."""
    return gpu_labelled(node) and not advertises_gpus(node)


def _running(pod: dict[str, Any]) -> bool:
    statuses = container_statuses(pod)
    return (
        dig(pod, "status", "phase") == "Running" and bool(statuses) and all(s.get("ready") for s in statuses)
    )


def plugin_state(snap: ClusterSnapshot, node: dict[str, Any]) -> str:
    """What the snapshot says about the device-plugin pod on this node."""
    plugin_pods = [p for p in snap.pods if name_of(p).startswith(PLUGIN_POD_PREFIXES)]
    on_node = [p for p in plugin_pods if dig(p, "spec", "nodeName") == name_of(node)]
    if not on_node:
        if plugin_pods or snap.all_namespaces:
            return "no device-plugin pod runs on it"
        return "no device-plugin pods in the snapshot to check"
    pod = on_node[0]
    if _running(pod):
        return f"device-plugin pod {namespace_of(pod)}/{name_of(pod)} is running but registered no GPUs"
    waiting = [
        str(dig(s, "state", "waiting", "reason"))
        for s in container_statuses(pod)
        if dig(s, "state", "waiting")
    ]
    state = waiting[0] if waiting else str(dig(pod, "status", "phase") or "unknown")
    return f"device-plugin pod {namespace_of(pod)}/{name_of(pod)} is not running ({state})"


def device_plugin_finding(
    snap: ClusterSnapshot,
    nodes: list[dict[str, Any]],
    severity: Severity,
    obj: str | None = None,
    evidence: str = "",
    finding_id: str = "DOC101",
) -> Finding:
    """These GPU-labelled nodes advertise no GPUs; says what became of the device-plugin pod on each. DOC101 on the
    nodes (cluster readiness), DOC008 on a pod that waits for them."""
    states = "; ".join(
        f"{name_of(n)} ({labels_of(n).get('nvidia.com/gpu.product', 'GPU')}): {plugin_state(snap, n)}"
        for n in nodes[:4]
    )
    more = f" (+{len(nodes) - 4} more)" if len(nodes) > 4 else ""
    first = nodes[0]
    return Finding(
        finding_id,
        "runtime",
        severity,
        obj or (ref(first) + (f" (+{len(nodes) - 1} more)" if len(nodes) > 1 else "")),
        (evidence + "; " if evidence else "")
        + f"{len(nodes)} node(s) carry GPU labels but advertise no nvidia.com/gpu in capacity/allocatable: "
        + states
        + more,
        "The NVIDIA device plugin is not running (or not registered) on these nodes, so the scheduler sees no GPUs "
        "there; their GPU type is not the problem.",
        f"kubectl get pods -A -o wide --field-selector spec.nodeName={name_of(first)} | grep device-plugin; fix or "
        "restart the device-plugin DaemonSet pod on the node (GPU Operator: check nvidia-driver-daemonset and "
        "nvidia-container-toolkit first; the node needs the nvidia.com/gpu.deploy.device-plugin=true label).",
    )
