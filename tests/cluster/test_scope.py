"""Everything the doctor and status report is scoped to the service's instance label, and status lists every
workload kind render emits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubellm.cluster.client import KubeClient
from kubellm.cluster.doctor import diagnose
from kubellm.cluster.events import view
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.live import SERVICE_WORKLOADS
from kubellm.cluster.manifests import build_manifests, hints_for
from kubellm.cluster.objects import name_of, pod_spec
from kubellm.cluster.rollout import service_snapshot
from kubellm.cluster.scope import event_in_scope
from kubellm.cluster.snapshot import ClusterSnapshot
from kubellm.cluster.status import service_status

from .builders import event
from .fake_apiserver import FakeApiServer

EXAMPLES = [
    p
    for p in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
    if "kind: GpuCluster" not in p.read_text(encoding="utf-8")
]
QUOTA = (
    'Error creating: pods "{rs}-q8w2p" is forbidden: exceeded quota: {svc}-gpus, requested: requests.nvidia.com/gpu=8, '
    "used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8"
)


def _deployment(name: str, instance: str | None) -> dict[str, Any]:
    labels = (
        {"app.kubernetes.io/instance": instance, "app.kubernetes.io/managed-by": "kubellm"}
        if instance
        else {}
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "llm", "labels": labels},
    }


def _quota_event(rs: str, svc: str, kind: str = "ReplicaSet") -> dict[str, Any]:
    return event(rs, "FailedCreate", QUOTA.format(rs=rs, svc=svc), kind=kind, count=12)


def test_another_services_replicaset_is_not_reported_even_when_its_name_starts_with_ours() -> None:
    ours, theirs = (
        _quota_event("llama-8b-7c9f8d6b5", "llama-8b"),
        _quota_event("llama-8b-large-5d8c7b9f4", "big"),
    )
    snap = ClusterSnapshot(
        events=[ours, theirs],
        workloads=[_deployment("llama-8b", "llama-8b"), _deployment("llama-8b-large", "llama-8b-large")],
    )
    hints = DoctorHints(namespace="llm", service="llama-8b")
    assert [f.object for f in diagnose(snap, hints)] == ["ReplicaSet/llm/llama-8b-7c9f8d6b5"]
    other = DoctorHints(namespace="llm", service="llama-8b-large")
    assert [f.object for f in diagnose(snap, other)] == ["ReplicaSet/llm/llama-8b-large-5d8c7b9f4"]
    assert len(diagnose(snap, DoctorHints(namespace="llm"))) == 2  # no service given: the whole namespace


def test_owners_missing_from_the_snapshot_are_matched_by_the_names_render_gives() -> None:
    hints = DoctorHints(namespace="llm", service="llama-8b")
    snap = ClusterSnapshot()
    cases = {
        ("ReplicaSet", "llama-8b-7c9f8d6b5"): True,
        ("ReplicaSet", "llama-8b-gateway-6d9b8c7f5"): True,
        ("Job", "llama-8b-prefetch"): True,
        ("StatefulSet", "llama-8b-0"): True,  # a LeaderWorkerSet's worker group
        ("ReplicaSet", "llama-8b-large-5d8c7b9f4"): False,
        ("Job", "llama-8b-large-prefetch"): False,
        ("ReplicaSet", "other-7c9f8d6b5"): False,
        (
            "StatefulSet",
            "llama-8b-large",
        ): False,  # another service's engine StatefulSet, not our worker group
        ("ReplicaSet", "llama-8b-large"): False,  # 'large' is no pod-template hash
    }
    for (kind, name), expected in cases.items():
        assert event_in_scope(snap, hints, view(_quota_event(name, "x", kind))) is expected, name
    elsewhere = view(
        _quota_event("llama-8b-7c9f8d6b5", "x")
        | {"involvedObject": {"kind": "ReplicaSet", "name": "llama-8b-7c9f8d6b5", "namespace": "prod"}}
    )
    assert not event_in_scope(snap, hints, elsewhere)


def test_a_statefulset_of_another_service_is_not_taken_for_our_worker_group() -> None:
    """Recorded shape: the StatefulSet controller's FailedCreate names the StatefulSet; ours is in the snapshot."""
    ours = _deployment("llama", "llama") | {"kind": "StatefulSet", "apiVersion": "apps/v1"}
    msg = (
        'create Pod llama-big-0 in StatefulSet llama-big failed error: pods "llama-big-0" is forbidden: pod rejected: '
        'RuntimeClass "nvidia-missing" not found'
    )
    theirs = event("llama-big", "FailedCreate", msg, kind="StatefulSet")
    snap = ClusterSnapshot(events=[theirs], workloads=[ours])
    assert diagnose(snap, DoctorHints(namespace="llm", service="llama")) == []
    assert [f.id for f in diagnose(snap, DoctorHints(namespace="llm", service="llama-big"))] == ["DOC108"]


def test_a_labelled_owner_decides_over_its_name() -> None:
    """A hand-named Deployment that carries our instance label is ours, whatever its name."""
    snap = ClusterSnapshot(
        events=[_quota_event("custom-engine-7c9f8d6b5", "llama-8b")],
        workloads=[_deployment("custom-engine", "llama-8b")],
    )
    assert [f.id for f in diagnose(snap, DoctorHints(namespace="llm", service="llama-8b"))] == ["DOC015"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_status_and_doctor_list_every_workload_kind_render_emits(
    example: Path, api: FakeApiServer, client: KubeClient
) -> None:
    """Render each example, serve its objects from the test double, and read them back as `status` does."""
    api.served["leaderworkerset.x-k8s.io/v1"] = [("LeaderWorkerSet", "leaderworkersets", True)]
    manifests = build_manifests(example, lint=False)
    workloads = [o for o in manifests.objects if pod_spec(o) and o.get("kind") != "Pod"]
    assert {str(w["kind"]) for w in workloads} <= {kind for _, kind in SERVICE_WORKLOADS}
    for obj in manifests.objects:
        if any(kind == obj["kind"] for kind, _, _ in api.served.get(obj["apiVersion"], [])):
            api.put(obj)  # routes, monitors … of APIs the double does not serve are not workloads
    snap = service_snapshot(client, hints_for(manifests), logs=False)
    status = service_status(snap, manifests.name, manifests.namespace)
    listed = {(w["kind"], w["name"]) for w in status["workloads"]} | {
        ("Job", j["name"]) for j in status["jobs"]
    }
    assert listed == {(str(w["kind"]), name_of(w)) for w in workloads}
