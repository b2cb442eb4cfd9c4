"""Gather a ClusterSnapshot from a live cluster through the thin client (the doctor's live mode)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from kubellm.cluster.apply import SERVICE_KINDS
from kubellm.cluster.client import ApiError, KubeClient, MissingApiError
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.objects import as_list, container_statuses, dig, name_of, namespace_of, pod_spec
from kubellm.cluster.snapshot import WORKLOAD_KINDS, ClusterSnapshot, MetricSample, parse_metrics

# The workload kinds render emits (Deployment, LeaderWorkerSet, Job): what doctor and status list.
SERVICE_WORKLOADS = tuple((v, k) for v, k in SERVICE_KINDS if k in WORKLOAD_KINDS)
GPU_COMPONENT_APPS = (
    "nvidia-device-plugin-daemonset",
    "gpu-feature-discovery",
    "nvidia-dcgm-exporter",
    "nvidia-driver-daemonset",
    "nvidia-container-toolkit-daemonset",
    "nvidia-operator-validator",
    "nvidia-mig-manager",
)
GKE_COMPONENT_APPS = ("nvidia-gpu-device-plugin", "nvidia-driver-installer")
PROMETHEUS_QUERIES = (
    "DCGM_FI_DEV_GPU_UTIL",
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",
)


def _try_list(
    client: KubeClient,
    snap: ClusterSnapshot,
    api_version: str,
    kind: str,
    namespace: str | None,
    sel: str | None = None,
) -> list[dict[str, Any]]:
    try:
        return client.list(api_version, kind, namespace, sel)
    except MissingApiError:
        return []
    except ApiError as exc:
        where = f"in namespace {namespace}" if namespace else "cluster-wide"
        snap.warnings.append(f"could not list {kind} {where}: {exc.what}")
        return []


def _try_cluster_list(
    client: KubeClient, snap: ClusterSnapshot, api_version: str, kind: str
) -> list[dict[str, Any]] | None:
    """A cluster-scoped list, or None when it cannot be read (unknown, unlike an empty list: none exist)."""
    try:
        return client.list(api_version, kind)
    except MissingApiError:
        return None
    except ApiError as exc:
        snap.warnings.append(f"could not list {kind} cluster-wide: {exc.what}")
        return None


def _api_versions(client: KubeClient) -> set[str]:
    versions = {"v1"}
    groups = client.request("GET", "/apis")
    for group in as_list(groups.get("groups")):
        versions.update(str(v.get("groupVersion")) for v in as_list(group.get("versions")))
    return versions


def engine_port(pod: dict[str, Any]) -> int | None:
    for container in as_list(pod_spec(pod).get("containers")):
        for port in as_list(container.get("ports")):
            if isinstance(port.get("containerPort"), int):
                return int(port["containerPort"])
    return None


def gather(client: KubeClient, hints: DoctorHints, logs: bool = True) -> ClusterSnapshot:
    """Nodes, GPU-stack pods, the namespace's pods, events, workloads and claims, RuntimeClasses, StorageClasses,
    APIs, and logs."""
    ns = hints.namespace
    snap = ClusterSnapshot(cluster_wide=True)
    snap.nodes = _try_list(client, snap, "v1", "Node", None)
    components = f"app in ({','.join(GPU_COMPONENT_APPS)})"
    snap.pods = _try_list(client, snap, "v1", "Pod", None, components)
    # GKE installs its own device plugin and DCGM exporter, labelled k8s-app
    snap.pods += _try_list(client, snap, "v1", "Pod", None, f"k8s-app in ({','.join(GKE_COMPONENT_APPS)})")
    snap.pods += [p for p in _try_list(client, snap, "v1", "Pod", ns) if hints.in_scope(p)]
    snap.events = _try_list(client, snap, "v1", "Event", ns)
    for api_version, kind in SERVICE_WORKLOADS:
        snap.workloads += [w for w in _try_list(client, snap, api_version, kind, ns) if hints.in_scope(w)]
    snap.claims = _try_list(client, snap, "v1", "PersistentVolumeClaim", ns)
    snap.runtime_classes = _try_cluster_list(client, snap, "node.k8s.io/v1", "RuntimeClass")
    snap.storage_classes = _try_cluster_list(client, snap, "storage.k8s.io/v1", "StorageClass")
    try:
        snap.api_versions = _api_versions(client)
    except ApiError as exc:
        snap.warnings.append(f"could not read the API groups: {exc.what}")
    if logs:
        _gather_logs(client, snap, hints)
    return snap


def _gather_logs(client: KubeClient, snap: ClusterSnapshot, hints: DoctorHints) -> None:
    for pod in snap.pods:
        if not hints.in_scope(pod) or namespace_of(pod) != (hints.namespace or namespace_of(pod)):
            continue
        for status in container_statuses(pod) + container_statuses(pod, init=True):
            restarted = int(status.get("restartCount") or 0) > 0
            if status.get("ready") and not restarted:
                continue
            name = str(status.get("name"))
            text = client.logs(namespace_of(pod), name_of(pod), name, previous=restarted)
            if not text and restarted:
                text = client.logs(namespace_of(pod), name_of(pod), name)
            if text:
                snap.logs[f"{namespace_of(pod)}/{name_of(pod)}/{name}"] = text


def engine_metrics(client: KubeClient, pods: list[dict[str, Any]]) -> dict[str, list[MetricSample]]:
    """Each ready engine pod's /metrics through the API server proxy (pods that do not answer are left out)."""
    result = {}
    for pod in pods:
        port = engine_port(pod)
        if port is None or dig(pod, "status", "phase") != "Running":
            continue
        text = client.proxy_get(namespace_of(pod), name_of(pod), port, "/metrics")
        if text:
            result[name_of(pod)] = parse_metrics(text)
    return result


def query_prometheus(url: str, timeout_s: float = 10.0) -> list[MetricSample]:
    """Instant values of the metrics the doctor reads, from a Prometheus HTTP API."""
    samples = []
    for query in PROMETHEUS_QUERIES:
        full = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
        try:
            with urllib.request.urlopen(full, timeout=timeout_s) as response:
                data = json.loads(response.read())
        except (OSError, ValueError):
            continue
        for item in as_list(dig(data, "data", "result")):
            value = item.get("value")
            if isinstance(value, list) and len(value) == 2:
                try:
                    samples.append(MetricSample(query, dict(item.get("metric") or {}), float(value[1])))
                except (TypeError, ValueError):
                    continue
    return samples
