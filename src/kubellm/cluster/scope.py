"""What belongs to the service looked at: its pods, and the owners (ReplicaSets, Jobs, StatefulSets) events name.

Events carry no labels, so an event about a ReplicaSet is the service's when the ReplicaSet (or the Deployment
it is named after) carries the service's instance label. A name prefix alone would give `llama-8b` the events
of `llama-8b-large`.
"""

from __future__ import annotations

import re
from typing import Any

from kubellm.cluster.events import EventView
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.objects import gpu_requests, name_of, namespace_of
from kubellm.cluster.snapshot import ClusterSnapshot

SYSTEM_NAMESPACES = (
    "kube-system",
    "gpu-operator",
    "nvidia-gpu-operator",
    "kube-public",
    "keda",
    "monitoring",
)
# Workload names render gives a service (ctx.name, f"{name}-gateway", f"{name}-prefetch"): used only for owners
# that are not in the snapshot (a dump without deployments.json).
_RENDERED_SUFFIXES = ("", "-gateway", "-prefetch")
_POD_TEMPLATE_HASH = re.compile(
    r"^[bcdfghjklmnpqrstvwxz2456789]{6,10}$"
)  # the alphabet of k8s SafeEncodeString


def workload_pods(snap: ClusterSnapshot, hints: DoctorHints) -> list[dict[str, Any]]:
    """Pods in scope; without a namespace or service, the GPU pods and their neighbours outside system namespaces."""
    pods = [p for p in snap.pods if hints.in_scope(p)]
    if hints.namespace or hints.service:
        return pods
    return [p for p in pods if namespace_of(p) not in SYSTEM_NAMESPACES or gpu_requests(p)]


def _owner_base(kind: str, name: str) -> str:
    """The name of what created the object: a ReplicaSet is '<deployment>-<pod-template-hash>', a LeaderWorkerSet's
    worker StatefulSet '<lws>-<group index>'. Anything else (a StatefulSet named 'llama-big') is its own owner."""
    head, _, tail = name.rpartition("-")
    if kind == "ReplicaSet" and head and _POD_TEMPLATE_HASH.match(tail):
        return head
    if kind == "StatefulSet" and head and tail.isdigit():
        return head
    return name


def event_in_scope(snap: ClusterSnapshot, hints: DoctorHints, event: EventView) -> bool:
    """Whether an event about a workload object belongs to the namespace and service looked at."""
    if hints.namespace and event.namespace not in (hints.namespace, ""):
        return False
    if not hints.service:
        return True
    by_name = {
        (str(w.get("kind")), name_of(w)): w
        for w in snap.workloads
        if namespace_of(w) in (event.namespace, "")
    }
    target = by_name.get((event.kind, event.name))
    if target is not None:
        return hints.in_scope(target)
    base = _owner_base(event.kind, event.name)
    for kind in ("Deployment", "LeaderWorkerSet", "StatefulSet", "Job"):
        owner = by_name.get((kind, base))
        if owner is not None:
            return hints.in_scope(owner)
    return any(name in (f"{hints.service}{s}" for s in _RENDERED_SUFFIXES) for name in (event.name, base))
