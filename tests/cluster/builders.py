"""Kubernetes objects shaped like `kubectl get -o json` output, for doctor scenarios.

Field layout follows real API responses (metadata.uid, creationTimestamp, ownerReferences, status
conditions, containerStatuses with state/lastState); only the values are made up.
"""

from __future__ import annotations

import itertools
from typing import Any

_uid = itertools.count(1)
TS = "2026-11-27T21:14:03Z"


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": f"6f1c2a4e-0000-4000-8000-{next(_uid):012d}",
        "resourceVersion": str(48213000 + next(_uid)),
        "creationTimestamp": TS,
    }
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return meta


def node(
    name: str,
    gpus: int = 8,
    product: str | None = "NVIDIA-A100-SXM4-80GB",
    driver: tuple[int, int] | None = (550, 127),
    taints: list[dict[str, str]] | None = None,
    ready: bool = True,
    allocatable_gpus: int | None = None,
    resource: str = "nvidia.com/gpu",
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "a2-ultragpu-8g",
        "topology.kubernetes.io/zone": "us-central1-a",
    }
    if product:
        labels |= {
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.count": str(gpus),
            "nvidia.com/gpu.memory": "81920",
            "nvidia.com/gpu.family": "ampere",
            "nvidia.com/mig.strategy": "single",
        }
    if driver:
        labels |= {
            "nvidia.com/cuda.driver-version.major": str(driver[0]),
            "nvidia.com/cuda.driver-version.minor": str(driver[1]),
            "nvidia.com/cuda.driver-version.full": f"{driver[0]}.{driver[1]}.05",
            "nvidia.com/cuda.driver.major": str(driver[0]),
        }
    labels |= extra_labels or {}
    capacity: dict[str, str] = {
        "cpu": "96",
        "ephemeral-storage": "507944172Ki",
        "hugepages-1Gi": "0",
        "memory": "1400963724Ki",
        "pods": "110",
    }
    allocatable = dict(capacity, cpu="95690m", memory="1379402892Ki")
    if gpus:
        capacity[resource] = str(gpus)
        allocatable[resource] = str(gpus if allocatable_gpus is None else allocatable_gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(name, labels=labels),
        "spec": {
            "podCIDR": "10.8.3.0/24",
            "providerID": f"gce://proj/us-central1-a/{name}",
            "taints": taints or [],
        },
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
                {
                    "type": "Ready",
                    "status": "True" if ready else "Unknown",
                    "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                    "message": "kubelet is posting ready status"
                    if ready
                    else "Kubelet stopped posting node status.",
                },
            ],
            "nodeInfo": {
                "containerRuntimeVersion": "containerd://1.7.22",
                "kubeletVersion": "v1.31.4-gke.1183000",
                "osImage": "Container-Optimized OS from Google",
            },
        },
    }


def cpu_node(name: str) -> dict[str, Any]:
    return node(name, gpus=0, product=None, driver=None)


GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def container(
    name: str = "vllm",
    image: str = "vllm/vllm-openai:v0.10.1.1",
    gpus: int = 1,
    memory: str = "64Gi",
    args: list[str] | None = None,
    startup_probe: dict[str, Any] | None = None,
    liveness_probe: dict[str, Any] | None = None,
    resource: str = "nvidia.com/gpu",
) -> dict[str, Any]:
    limits: dict[str, str] = {"cpu": "8", "memory": memory}
    if gpus:
        limits[resource] = str(gpus)
    c: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": args or ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192"],
        "ports": [{"containerPort": 8000, "name": "http", "protocol": "TCP"}],
        "resources": {"limits": limits, "requests": dict(limits)},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if startup_probe:
        c["startupProbe"] = startup_probe
    if liveness_probe:
        c["livenessProbe"] = liveness_probe
    return c


def pod(
    name: str,
    namespace: str = "llm",
    phase: str = "Running",
    containers: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    node_name: str | None = "gke-gpu-pool-1",
    node_selector: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    runtime_class: str | None = None,
    conditions: list[dict[str, Any]] | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": containers or [container()],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": False,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "llama-8b",
        "terminationGracePeriodSeconds": 120,
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
    }
    if init_containers:
        spec["initContainers"] = init_containers
    if node_name and phase != "Pending":
        spec["nodeName"] = node_name
    if node_selector:
        spec["nodeSelector"] = node_selector
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    status: dict[str, Any] = {"phase": phase, "qosClass": "Guaranteed", "startTime": TS}
    if conditions is not None:
        status["conditions"] = conditions
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            name,
            namespace,
            labels
            or {
                "app.kubernetes.io/name": "vllm",
                "app.kubernetes.io/instance": "llama-8b",
                "kubellm.dev/service": "llama-8b",
                "pod-template-hash": "7c9f8d6b5",
            },
        )
        | {
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": name.rsplit("-", 1)[0],
                    "controller": True,
                }
            ]
        },
        "spec": spec,
        "status": status,
    }


def unschedulable(message: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastTransitionTime": TS,
        }
    ]


def status_running(name: str = "vllm", restarts: int = 0, ready: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "image": "docker.io/vllm/vllm-openai:v0.10.1.1",
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": TS}},
    }


def status_crashloop(
    name: str = "vllm",
    restarts: int = 5,
    exit_code: int = 1,
    reason: str = "Error",
    message: str | None = None,
) -> dict[str, Any]:
    terminated: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": TS,
        "finishedAt": TS,
        "containerID": "containerd://9b1d",
    }
    if message:
        terminated["message"] = message
    return {
        "name": name,
        "image": "docker.io/vllm/vllm-openai:v0.10.1.1",
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container={name} pod=llama-8b-7c9f8d6b5-x2x9k",
            }
        },
        "lastState": {"terminated": terminated},
    }


def status_waiting(name: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "vllm/vllm-openai:v0.10.1.1",
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}},
        "lastState": {},
    }


def event(
    pod_name: str,
    reason: str,
    message: str,
    kind: str = "Pod",
    namespace: str = "llm",
    count: int = 1,
    type_: str = "Warning",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": _meta(f"{pod_name}.17f3a9c2b1d4e5f6", namespace),
        "involvedObject": {"apiVersion": "v1", "kind": kind, "name": pod_name, "namespace": namespace},
        "reason": reason,
        "message": message,
        "count": count,
        "type": type_,
        "firstTimestamp": TS,
        "lastTimestamp": TS,
        "source": {"component": "default-scheduler" if reason == "FailedScheduling" else "kubelet"},
    }


def system_pod(name: str, namespace: str = "gpu-operator", **kwargs: Any) -> dict[str, Any]:
    return pod(
        name,
        namespace=namespace,
        containers=[
            container(name=name.rsplit("-", 1)[0], image="nvcr.io/nvidia/k8s-device-plugin:v0.17.0", gpus=0)
        ],
        labels={"app": name.rsplit("-", 1)[0]},
        **kwargs,
    )
