"""Status of one service and the progress of its rollout, from plain objects (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kubellm.cluster.blockers import blocking_finding, prefetch_stage
from kubellm.cluster.findings import Finding
from kubellm.cluster.objects import (
    as_int,
    as_list,
    container_statuses,
    dig,
    gpu_requests,
    labels_of,
    name_of,
    node_gpus,
)
from kubellm.cluster.signatures import startup_phase
from kubellm.cluster.snapshot import ENGINE_WORKLOAD_KINDS, ClusterSnapshot, MetricSample

COMPONENT_LABEL = "app.kubernetes.io/component"
LWS_NAME_LABEL = (
    "leaderworkerset.sigs.k8s.io/name"  # on every pod of a LeaderWorkerSet (it has no spec.selector)
)
# Findings that no amount of waiting fixes: --wait stops and shows them.
FATAL_CATEGORIES = frozenset(
    {"image", "model-access", "driver", "dtype", "shm", "runtime", "host-oom", "gpu-oom", "kv-cache"}
)


def _pod_row(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = container_statuses(pod)
    waiting = [
        str(dig(s, "state", "waiting", "reason")) for s in statuses if dig(s, "state", "waiting", "reason")
    ]
    return {
        "name": name_of(pod),
        "component": labels_of(pod).get(COMPONENT_LABEL, ""),
        "phase": dig(pod, "status", "phase") or "Unknown",
        "ready": bool(statuses) and all(bool(s.get("ready")) for s in statuses),
        "restarts": sum(as_int(s.get("restartCount")) for s in statuses),
        "node": dig(pod, "spec", "nodeName"),
        "gpus": gpu_requests(pod),
        "reason": waiting[0] if waiting else dig(pod, "status", "reason"),
    }


def _workload_row(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": obj.get("kind"),
        "name": name_of(obj),
        "desired": as_int(dig(obj, "spec", "replicas")) if dig(obj, "spec", "replicas") is not None else 1,
        "ready": as_int(dig(obj, "status", "readyReplicas")),
        "updated": as_int(dig(obj, "status", "updatedReplicas")),
        "available": as_int(dig(obj, "status", "availableReplicas")),
    }


def _engine_load(samples: list[MetricSample]) -> dict[str, float | None]:
    def first(*names: str) -> float | None:
        values = [s.value for s in samples if s.name in names]
        return sum(values) if values else None

    return {
        "waiting": first("vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size"),
        "running": first("vllm:num_requests_running", "sglang:num_running_reqs"),
        "kv_cache_usage": first(
            "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"
        ),
    }


def service_status(
    snap: ClusterSnapshot,
    service: str,
    namespace: str,
    engine_metrics: dict[str, list[MetricSample]] | None = None,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Replicas, pods, GPU allocation, and queue/KV use of the engines that answered."""
    pods = [_pod_row(p) for p in snap.pods]
    gpus_used: dict[str, int] = {}
    for pod in snap.pods:
        if dig(pod, "status", "phase") in ("Running", "Pending") and dig(pod, "spec", "nodeName"):
            for resource, count in gpu_requests(pod).items():
                gpus_used[resource] = gpus_used.get(resource, 0) + count
    could_not_read = list(snap.warnings)
    nodes_unreadable = any(w.startswith("could not list Node") for w in could_not_read)
    allocatable: dict[str, int] | None = None if nodes_unreadable else {}
    for node in snap.nodes:
        for resource, count in node_gpus(node).items():
            assert allocatable is not None
            allocatable[resource] = allocatable.get(resource, 0) + count
    metrics = engine_metrics or {}
    return {
        "service": service,
        "namespace": namespace,
        "workloads": [_workload_row(w) for w in snap.workloads if w.get("kind") in ENGINE_WORKLOAD_KINDS],
        "jobs": [
            {
                "name": name_of(j),
                "succeeded": dig(j, "status", "succeeded") or 0,
                "failed": dig(j, "status", "failed") or 0,
                "active": dig(j, "status", "active") or 0,
            }
            for j in snap.workloads
            if j.get("kind") == "Job"
        ],
        "pods": pods,
        "gpus": {"used_by_service": gpus_used, "cluster_allocatable": allocatable},
        "engines": {name: _engine_load(samples) for name, samples in sorted(metrics.items())},
        "endpoint": endpoint,
        "could_not_read": could_not_read,
    }


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a rollout stands: a line for the user, done, or a reason it cannot finish."""

    line: str
    done: bool = False
    failed: str | None = None
    blocked_by: str | None = None  # '<finding id> <object>' of an unschedulable pod the rollout waits for
    blocked: str | None = None  # that finding's cause and fix


def rollout_progress(snap: ClusterSnapshot, findings: list[Finding] | None = None) -> Progress:
    """The rollout's stage: prefetch download, scheduling, image pull, model load, readiness."""
    fatal = [f for f in findings or [] if f.severity == "error" and f.category in FATAL_CATEGORIES]
    if fatal:
        return Progress(
            f"failed: {fatal[0].id} {fatal[0].object}", failed=f"{fatal[0].cause} — {fatal[0].fix}"
        )
    for job in (w for w in snap.workloads if w.get("kind") == "Job"):
        if (
            dig(job, "status", "failed")
            and not dig(job, "status", "active")
            and not dig(job, "status", "succeeded")
        ):
            return Progress(
                f"prefetch job {name_of(job)} failed",
                failed="the prefetch Job failed: kubectl logs job/" + name_of(job),
            )
        if not dig(job, "status", "succeeded"):
            return _unless_blocked(snap, findings, Progress(prefetch_stage(snap, job)))
    workloads = [w for w in snap.workloads if w.get("kind") in ENGINE_WORKLOAD_KINDS]
    if not workloads:
        return Progress("waiting for the workloads to appear")
    lines = []
    all_ready = True
    for workload in workloads:
        row = _workload_row(workload)
        if row["ready"] >= row["desired"] and row["updated"] >= row["desired"]:
            lines.append(f"{row['name']}: {row['ready']}/{row['desired']} ready")
            continue
        all_ready = False
        lines.append(f"{row['name']}: {row['ready']}/{row['desired']} ready, {_pod_stage(snap, workload)}")
    return _unless_blocked(snap, findings, Progress("; ".join(lines), done=all_ready))


def _unless_blocked(snap: ClusterSnapshot, findings: list[Finding] | None, progress: Progress) -> Progress:
    """The progress, marked blocked when a pod it waits for is unschedulable for a reason waiting will not fix."""
    blocker = None if progress.done else blocking_finding(snap, findings or [])
    if blocker is None:
        return progress
    return replace(
        progress,
        line=f"{progress.line} (unschedulable: {blocker.id} {blocker.object})",
        blocked_by=f"{blocker.id} {blocker.object}",
        blocked=f"{blocker.id} {blocker.object}: {blocker.cause} — {blocker.fix}",
    )


def _pod_stage(snap: ClusterSnapshot, workload: dict[str, Any]) -> str:
    match = dig(workload, "spec", "selector", "matchLabels") or {}
    if workload.get("kind") == "LeaderWorkerSet":
        match = {LWS_NAME_LABEL: name_of(workload)}
    pods = [p for p in snap.pods if all(labels_of(p).get(k) == v for k, v in match.items())]
    for pod in pods:
        for cond in as_list(dig(pod, "status", "conditions")):
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                return "waiting for a node with free GPUs"
        for status in container_statuses(pod, init=True) + container_statuses(pod):
            reason = dig(status, "state", "waiting", "reason")
            if reason in ("ContainerCreating", "PodInitializing"):
                return "pulling the image"
            if reason:
                return str(reason)
        text = "\n".join(v for k, v in snap.logs.items() if f"/{name_of(pod)}/" in k)
        phase = startup_phase(text)
        if phase == "download":
            return "downloading the weights"
        if phase == "load" or dig(pod, "status", "phase") == "Running":
            return "loading the model"
    return "starting"
