"""Pods of the core workload kinds (Deployment, StatefulSet, Job …) and of LeaderWorkerSets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import (
    ConfigMapLookup,
    PodView,
    as_dict,
    container_views,
    get_path,
    template_pod,
    to_int,
)

WORKLOAD_TEMPLATE_PATHS = {
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "ReplicationController": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
    "Pod": "spec",
}
REPLICATED = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")


def controller_labels(obj: K8sObject) -> dict[str, str | None]:
    """Labels the kind's controller adds to each pod; None where the value differs per pod."""
    if obj.kind == "StatefulSet":
        return {
            "statefulset.kubernetes.io/pod-name": None,
            "apps.kubernetes.io/pod-index": None,
            "controller-revision-hash": None,
        }
    if obj.kind in ("Deployment", "ReplicaSet"):
        return {"pod-template-hash": None}
    if obj.kind == "Job":
        return {
            "batch.kubernetes.io/job-name": obj.name,
            "job-name": obj.name,
            "batch.kubernetes.io/controller-uid": None,
            "controller-uid": None,
            "batch.kubernetes.io/job-completion-index": None,
        }
    return {}


def deployment_surge(spec: dict[str, Any]) -> str | None:
    """maxSurge of a Deployment-style `strategy` (default 25 %); None for Recreate or a surge of 0."""
    strategy = as_dict(spec.get("strategy"))
    if strategy.get("type") == "Recreate":
        return None
    surge = str(as_dict(strategy.get("rollingUpdate")).get("maxSurge", "25%")).strip()
    return None if surge in ("0", "0%") else surge


def workload_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    path = WORKLOAD_TEMPLATE_PATHS[obj.kind]
    spec = get_path(obj.data, path)
    if not isinstance(spec, dict):
        return
    meta = (
        obj.metadata
        if obj.kind == "Pod"
        else as_dict(get_path(obj.data, path[: -len(".spec")] + ".metadata"))
    )
    yield PodView(
        obj,
        spec,
        path,
        container_views(spec, path, obj.namespace, configmaps),
        to_int(obj.spec.get("replicas"), 1) if obj.kind in REPLICATED else None,
        as_dict(meta.get("labels")),
        as_dict(meta.get("annotations")),
        controller_labels=controller_labels(obj),
        max_surge=deployment_surge(obj.spec) if obj.kind == "Deployment" else None,
    )


def leaderworkerset_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    lwt = as_dict(obj.spec.get("leaderWorkerTemplate"))
    size = to_int(lwt.get("size"), 1) or 1
    replicas = to_int(obj.spec.get("replicas"), 1)
    rollout = as_dict(as_dict(obj.spec.get("rolloutStrategy")).get("rollingUpdateConfiguration"))
    surge = str(rollout.get("maxSurge", "0")).strip()
    # without a leaderTemplate, the workerTemplate makes every pod of the group, the leader included
    roles = (
        (("leader", "leaderTemplate"), ("worker", "workerTemplate"))
        if lwt.get("leaderTemplate")
        else (("leader", "workerTemplate"),)
    )
    for role, key in roles:
        template = as_dict(lwt.get(key))
        labels: dict[str, str | None] = {
            "leaderworkerset.sigs.k8s.io/name": obj.name,
            "leaderworkerset.sigs.k8s.io/group-index": None,
            "leaderworkerset.sigs.k8s.io/group-key": None,
            "leaderworkerset.sigs.k8s.io/worker-index": "0" if role == "leader" else None,
            "leaderworkerset.sigs.k8s.io/template-revision-hash": None,
            "apps.kubernetes.io/pod-index": None,
            "statefulset.kubernetes.io/pod-name": None,
        }
        injected = {"LWS_GROUP_SIZE": str(size), "LWS_LEADER_ADDRESS": f"{obj.name}-0.{obj.name}"}
        if role == "leader":
            injected["LWS_WORKER_INDEX"] = "0"
        pod = template_pod(
            obj,
            template,
            f"spec.leaderWorkerTemplate.{key}",
            configmaps,
            injected,
            replicas=replicas,
            role=role,
            group_size=size,
            controller_labels=labels,
            max_surge=None if surge in ("0", "0%") else surge,
        )
        if pod is not None:
            yield pod
