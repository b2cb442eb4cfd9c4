"""Follow a rollout (`kubellm apply --wait`): poll the service's objects, report each new stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubellm.cluster.apply import selector
from kubellm.cluster.blockers import rollout_findings
from kubellm.cluster.client import KubeClient
from kubellm.cluster.doctor import diagnose
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.live import gather
from kubellm.cluster.snapshot import ClusterSnapshot
from kubellm.cluster.status import Progress, rollout_progress
from kubellm.errors import KubellmError

# How long a pod may stay unschedulable before --wait gives up on it: time for a cluster autoscaler to answer
# (it marks the pods it adds a node for with TriggeredScaleUp within its 10 s loop) and for a PVC to bind.
BLOCKED_SETTLE_S = 30.0


class RolloutError(KubellmError):
    """The rollout failed or did not finish in time."""


def service_snapshot(client: KubeClient, hints: DoctorHints, logs: bool = True) -> ClusterSnapshot:
    """The service's pods, workloads and events, plus nodes and the GPU stack (what --wait and status read)."""
    assert hints.service and hints.namespace
    snap = gather(client, hints, logs=logs)
    sel = selector(hints.service)
    snap.workloads = [w for w in snap.workloads if w.get("kind") != "Job"] + client.list(
        "batch/v1", "Job", hints.namespace, sel
    )
    return snap


def wait_for_rollout(
    client: KubeClient,
    hints: DoctorHints,
    timeout_s: float,
    poll_s: float = 5.0,
    on_progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
    settle_s: float = BLOCKED_SETTLE_S,
) -> Progress:
    """Poll until every workload is ready; stop early on a finding that waiting cannot fix, or on a pod that stayed
    unschedulable for ``settle_s`` with no autoscaler adding a node for it."""
    deadline = clock() + timeout_s
    blocked_since: dict[str, float] = {}
    last_line = ""
    doctor_hint = f"kubellm doctor --namespace {hints.namespace} --service {hints.service}"
    while True:
        snap = service_snapshot(client, hints)
        progress = rollout_progress(snap, rollout_findings(snap, hints, diagnose(snap, hints)))
        if progress.line != last_line and on_progress:
            on_progress(progress)
        last_line = progress.line
        if progress.failed:
            raise RolloutError(
                f"rollout of {hints.service} failed: {progress.failed}", f"details: {doctor_hint}"
            )
        if progress.done:
            return progress
        if (
            progress.blocked_by
            and clock() - blocked_since.setdefault(progress.blocked_by, clock()) >= settle_s
        ):
            raise RolloutError(
                f"rollout of {hints.service} cannot finish: {progress.blocked}", f"details: {doctor_hint}"
            )
        if clock() >= deadline:
            raise RolloutError(
                f"rollout of {hints.service} not ready after {timeout_s:.0f} s ({progress.line})",
                f"raise --timeout for big models, or see what holds it: {doctor_hint}",
            )
        sleep(poll_s)


def endpoint(objects: list[dict[str, Any]], name: str, namespace: str, host: str | None) -> str | None:
    """Where clients reach the service: the public host, else the gateway (or engine) Service in the cluster."""
    if host:
        return f"https://{host}/v1"
    services = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Service"}
    for candidate in (f"{name}-gateway", f"{name}-engine", name):
        svc = services.get(candidate)
        if svc:
            ports = svc.get("spec", {}).get("ports") or [{}]
            port = ports[0].get("port", 80)
            return f"http://{candidate}.{namespace}.svc.cluster.local:{port}/v1"
    return None
