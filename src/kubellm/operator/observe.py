"""Read what the reconcile needs about one LLMService from the cluster (the thin I/O beside ``reconcile``).

The doctor's live gathering (nodes, the GPU stack, the namespace's pods, events and workloads, the
logs of containers that are not ready) scoped to the service, plus the tail of each running
``prefetch`` container's log, where the download progress is.
"""

from __future__ import annotations

from kubellm.cluster.client import KubeClient
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.objects import container_statuses, dig, name_of, namespace_of
from kubellm.cluster.rollout import service_snapshot
from kubellm.cluster.snapshot import ClusterSnapshot

PREFETCH_CONTAINER = "prefetch"
PROGRESS_TAIL_LINES = 40


def observe(client: KubeClient, namespace: str, service: str) -> ClusterSnapshot:
    """The service's snapshot: what `kubellm status` and `doctor --service` read, and the download's log."""
    snap = service_snapshot(client, DoctorHints(namespace=namespace, service=service))
    for pod in snap.pods:
        if namespace_of(pod) != namespace:
            continue
        key = f"{namespace}/{name_of(pod)}/{PREFETCH_CONTAINER}"
        statuses = container_statuses(pod) + container_statuses(pod, init=True)
        running = any(
            s.get("name") == PREFETCH_CONTAINER and dig(s, "state", "running") is not None for s in statuses
        )
        if running and key not in snap.logs:
            text = client.logs(namespace, name_of(pod), PREFETCH_CONTAINER, tail_lines=PROGRESS_TAIL_LINES)
            if text:
                snap.logs[key] = text
    return snap
