"""Cluster readiness: GPU nodes, device plugin and GPU Operator health, labels, driver, add-ons."""

from __future__ import annotations

from typing import Any

from kubellm.cluster.deviceplugin import advertises_gpus, device_plugin_finding, plugin_down
from kubellm.cluster.driver import image_cuda, min_driver, node_driver
from kubellm.cluster.findings import Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.objects import (
    as_list,
    container_statuses,
    dig,
    gpu_requests,
    labels_of,
    name_of,
    node_gpus,
    node_ready,
    pod_spec,
    ref,
)
from kubellm.cluster.snapshot import ClusterSnapshot

# GPU Operator / device plugin components: pod name fragment → (what it does, category)
_COMPONENTS = {
    "nvidia-driver-daemonset": ("installs the NVIDIA driver", "driver"),
    "nvidia-container-toolkit": ("configures the NVIDIA container runtime", "runtime"),
    "nvidia-device-plugin": ("advertises nvidia.com/gpu to the scheduler", "runtime"),
    "nvidia-gpu-device-plugin": ("advertises nvidia.com/gpu to the scheduler", "runtime"),
    "nvidia-driver-installer": ("installs the NVIDIA driver (GKE)", "driver"),
    "gpu-feature-discovery": ("labels GPU nodes (product, driver, MIG)", "runtime"),
    "nvidia-dcgm-exporter": ("exports GPU metrics", "performance"),
    "nvidia-mig-manager": ("applies MIG profiles", "runtime"),
    "nvidia-operator-validator": ("validates the GPU stack on each node", "runtime"),
}


def gpu_nodes(snap: ClusterSnapshot) -> list[dict[str, Any]]:
    """Nodes that advertise a GPU resource (nvidia.com/gpu or MIG slices)."""
    return [n for n in snap.nodes if advertises_gpus(n)]


def check_gpu_nodes(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    if not snap.nodes:
        return []
    findings: list[Finding] = []
    nodes = gpu_nodes(snap)
    dead = [n for n in snap.nodes if plugin_down(n)]
    if not nodes:
        if dead:
            findings.append(device_plugin_finding(snap, dead, "error"))
        else:
            findings.append(
                Finding(
                    "DOC100",
                    "scheduling",
                    "error",
                    "cluster",
                    f"none of the {len(snap.nodes)} node(s) advertises nvidia.com/gpu or a MIG resource",
                    "The cluster has no GPU nodes (or their device plugin never registered).",
                    "Add a GPU node pool (or let the cluster autoscaler create one) and install the GPU Operator.",
                )
            )
        return findings
    if dead:
        live_products = {labels_of(n).get("nvidia.com/gpu.product") for n in nodes}
        wanted = set(hints.gpu_products)
        stranded = bool(wanted) and not wanted & live_products and any(_product(n) in wanted for n in dead)
        findings.append(device_plugin_finding(snap, dead, "error" if stranded else "warning"))
    for node in nodes:
        capacity, allocatable = node_gpus(node, "capacity"), node_gpus(node)
        for resource, count in capacity.items():
            if allocatable.get(resource, 0) < count:
                findings.append(
                    Finding(
                        "DOC102",
                        "driver",
                        "warning",
                        ref(node),
                        f"{resource}: capacity {count}, allocatable {allocatable.get(resource, 0)}",
                        "The device plugin marked some GPUs unhealthy (usually Xid errors reported by the driver).",
                        "Check `kubectl logs -n gpu-operator ds/nvidia-device-plugin-daemonset` and `nvidia-smi -q` on "
                        "the node; drain and reboot it, or replace the GPU.",
                    )
                )
        if not node_ready(node):
            findings.append(
                Finding(
                    "DOC103",
                    "scheduling",
                    "warning",
                    ref(node),
                    "condition Ready is not True",
                    "A GPU node is NotReady; its GPUs cannot take pods.",
                    "kubectl describe node "
                    + name_of(node)
                    + " — fix the kubelet or container runtime, or replace the node.",
                )
            )
    unlabelled = [n for n in nodes if "nvidia.com/gpu.product" not in labels_of(n)]
    if unlabelled:
        findings.append(
            Finding(
                "DOC104",
                "scheduling",
                "info",
                _nodes_ref(unlabelled),
                f"{len(unlabelled)} of {len(nodes)} GPU node(s) have no nvidia.com/gpu.product label",
                "GPU feature discovery does not run on these nodes, so selectors on the GPU product match nothing.",
                "Enable GPU feature discovery (on by default in the GPU Operator: gfd.enabled=true).",
                "gpu.type",
            )
        )
    return findings


def _product(node: dict[str, Any]) -> str | None:
    return labels_of(node).get("nvidia.com/gpu.product")


def _nodes_ref(nodes: list[dict[str, Any]]) -> str:
    """'Node/a' or 'Node/a (+N more)' — one finding for many nodes in the same state."""
    return ref(nodes[0]) + (f" (+{len(nodes) - 1} more)" if len(nodes) > 1 else "")


def check_components(snap: ClusterSnapshot) -> list[Finding]:
    """GPU Operator / device plugin pods that are not running and ready."""
    findings: list[Finding] = []
    seen_dcgm = False
    for pod in snap.pods:
        name = name_of(pod)
        component = next((c for c in _COMPONENTS if name.startswith(c)), None)
        if component is None:
            continue
        seen_dcgm = seen_dcgm or component == "nvidia-dcgm-exporter"
        role, category = _COMPONENTS[component]
        phase = dig(pod, "status", "phase")
        bad = [
            f"{s.get('name')}: {dig(s, 'state', 'waiting', 'reason')} {dig(s, 'state', 'waiting', 'message') or ''}".strip()
            for s in container_statuses(pod) + container_statuses(pod, init=True)
            if dig(s, "state", "waiting", "reason") not in (None, "PodInitializing", "ContainerCreating")
        ]
        if phase in ("Running", "Succeeded") and not bad:
            continue
        findings.append(
            Finding(
                "DOC105",
                "driver" if category == "driver" else "runtime",
                "error",
                ref(pod),
                f"phase {phase}" + (f"; {'; '.join(bad)}" if bad else ""),
                f"{component} ({role}) is not healthy on node {dig(pod, 'spec', 'nodeName') or '?'}.",
                f"kubectl logs -n {dig(pod, 'metadata', 'namespace')} {name} --all-containers; for the GPU Operator the "
                "nvidia-driver-daemonset and nvidia-container-toolkit pods must be healthy first.",
            )
        )
    if snap.all_namespaces and gpu_nodes(snap) and not seen_dcgm:
        findings.append(
            Finding(
                "DOC106",
                "performance",
                "info",
                "cluster",
                "no nvidia-dcgm-exporter pod in any namespace",
                "Without the DCGM exporter there are no GPU utilization or memory metrics for dashboards and the doctor.",
                "Enable it in the GPU Operator (dcgmExporter.enabled=true, serviceMonitor.enabled=true).",
            )
        )
    return findings


def _engine_images(snap: ClusterSnapshot, hints: DoctorHints) -> set[str]:
    images = {hints.image} if hints.image else set()
    for pod in snap.pods:
        if hints.in_scope(pod) and gpu_requests(pod):
            for container in as_list(pod_spec(pod).get("containers")):
                if container.get("image"):
                    images.add(str(container["image"]))
    return images


def check_driver(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    findings: list[Finding] = []
    for image in sorted(_engine_images(snap, hints)):
        cuda = image_cuda(image)
        needed = min_driver(cuda) if cuda else None
        if cuda is None or needed is None:
            continue
        by_driver: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for node in gpu_nodes(snap):
            have = node_driver(labels_of(node))
            if have is not None and have < needed:
                by_driver.setdefault(have, []).append(node)
        for have, old_nodes in sorted(by_driver.items()):
            findings.append(
                Finding(
                    "DOC107",
                    "driver",
                    "warning",
                    _nodes_ref(old_nodes),
                    f"{len(old_nodes)} GPU node(s) with driver {have[0]}.{have[1]} (GFD label); image {image} is built "
                    f"for CUDA {cuda[0]}.{cuda[1]}, whose minimum driver is {needed[0]}.{needed[1]}",
                    "The nodes' NVIDIA driver is older than the engine image's CUDA toolkit; the engine may fail "
                    "with 'CUDA driver version is insufficient for CUDA runtime version'.",
                    f"Upgrade the node driver to ≥ {needed[0]} (GPU Operator driver.version) or pin an engine image "
                    "built for an older CUDA.",
                    "engine.image",
                )
            )
    return findings


def check_runtime_class(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    if snap.runtime_classes is None:
        return []
    known = {name_of(rc) for rc in snap.runtime_classes}
    wanted: dict[str, str] = {}
    if hints.runtime_class:
        wanted[hints.runtime_class] = "the spec (gpu.runtime_class)"
    for pod in snap.pods:
        name = pod_spec(pod).get("runtimeClassName")
        if name and hints.in_scope(pod):
            wanted.setdefault(str(name), ref(pod))
    return [
        Finding(
            "DOC108",
            "runtime",
            "error",
            f"RuntimeClass/{name}",
            f"asked for by {who}; RuntimeClasses present: " + (", ".join(sorted(known)) or "none"),
            f"RuntimeClass {name!r} does not exist, so pods that name it are rejected.",
            "Install the GPU Operator (it creates RuntimeClass 'nvidia') or set gpu.runtime_class to one that exists "
            "(or leave it unset where nvidia is containerd's default runtime).",
            "gpu.runtime_class",
        )
        for name, who in sorted(wanted.items())
        if name not in known
    ]


def check_addons(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    if snap.api_versions is None:
        return []
    groups = {v.split("/")[0] for v in snap.api_versions if "/" in v}
    findings: list[Finding] = []
    if hints.autoscaler == "keda" and "keda.sh" not in groups:
        findings.append(
            Finding(
                "DOC109",
                "runtime",
                "error",
                "cluster",
                "API group keda.sh is not served (kubectl api-versions)",
                "KEDA is not installed, so the ScaledObject that scales the engines cannot be created.",
                "Install KEDA (helm install keda kedacore/keda -n keda --create-namespace) or set scaling.autoscaler: hpa.",
                "scaling.autoscaler",
            )
        )
    if (
        hints.autoscaler == "hpa"
        and "custom.metrics.k8s.io" not in groups
        and "external.metrics.k8s.io" not in groups
    ):
        findings.append(
            Finding(
                "DOC110",
                "runtime",
                "error",
                "cluster",
                "no custom.metrics.k8s.io or external.metrics.k8s.io API",
                "No metrics adapter serves the queue metric the HorizontalPodAutoscaler scales on.",
                "Install Prometheus Adapter with a rule for the engine queue metric, or set scaling.autoscaler: keda.",
                "scaling.autoscaler",
            )
        )
    return findings


def check_mig(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    resource = hints.gpu_resource
    if not resource or not resource.startswith("nvidia.com/mig-") or not snap.nodes:
        return []
    if any(node_gpus(n).get(resource, 0) > 0 for n in snap.nodes):
        return []
    offered = sorted({r for n in snap.nodes for r, c in node_gpus(n).items() if c > 0})
    return [
        Finding(
            "DOC111",
            "scheduling",
            "error",
            "cluster",
            f"no node advertises {resource}; GPU resources offered: {', '.join(offered) or 'none'}",
            "MIG is not enabled with the 'mixed' strategy and this profile on any node.",
            "Label a node with nvidia.com/mig.config=<profile set> (GPU Operator MIG manager, mig.strategy=mixed), "
            "or choose a profile that exists (gpu.mig_profile).",
            "gpu.mig_profile",
        )
    ]


def check_fit(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    """Before anything runs: does any node have the spec's GPU type, and enough of them for one pod?"""
    nodes = gpu_nodes(snap)
    if not nodes:
        return []
    findings = []
    labelled = nodes + [
        n for n in snap.nodes if plugin_down(n)
    ]  # a dead plugin is DOC101, not a wrong gpu.type
    products = {_product(n) for n in labelled} - {None}
    if hints.gpu_products and products and not products & set(hints.gpu_products):
        findings.append(
            Finding(
                "DOC113",
                "scheduling",
                "error",
                "cluster",
                f"the spec's GPU type is {', '.join(hints.gpu_products)}; GPU nodes have: {', '.join(sorted(map(str, products)))}",
                "No node has the GPU type the spec asks for, so the engine pods will stay Pending.",
                "Set gpu.type to a GPU the cluster has, or add a node pool of that type.",
                "gpu.type",
            )
        )
    resource = hints.gpu_resource
    if resource and hints.gpus_per_pod:
        most = max((node_gpus(n).get(resource, 0) for n in nodes), default=0)
        if 0 < most < hints.gpus_per_pod:
            findings.append(
                Finding(
                    "DOC112",
                    "scheduling",
                    "error",
                    "cluster",
                    f"one replica needs {hints.gpus_per_pod} {resource} per pod; the largest node has {most}",
                    "No node can hold one engine pod.",
                    f"Use at most {most} GPUs per pod (gpu.count with a larger GPU or a quantized model), or span nodes "
                    "with gpu.nodes > 1.",
                    "gpu.count",
                )
            )
    return findings


def check_readiness(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    """Every cluster-readiness check."""
    return [
        *check_gpu_nodes(snap, hints),
        *check_components(snap),
        *check_driver(snap, hints),
        *check_runtime_class(snap, hints),
        *check_addons(snap, hints),
        *check_mig(snap, hints),
        *check_fit(snap, hints),
    ]
