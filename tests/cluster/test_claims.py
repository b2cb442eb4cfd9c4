"""DOC006 names why a model-cache claim is not bound, from the claim and the cluster's StorageClasses.

The base case is recorded from a real API server and scheduler (tests/cluster/data/dump-real-claims: a
cluster with no StorageClass); the other causes change that recording the way the cluster would differ.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from kubellm.cluster.doctor import DoctorHints, diagnose
from kubellm.cluster.findings import Finding
from kubellm.cluster.snapshot import ClusterSnapshot, load_dump

DUMP = Path(__file__).parent / "data" / "dump-real-claims"
POD = "Pod/lead-op/qwen-l4-0"


@pytest.fixture(scope="module")
def recorded() -> ClusterSnapshot:
    return load_dump(DUMP)


def _doc006(snap: ClusterSnapshot) -> Finding:
    found = [
        f for f in diagnose(snap, DoctorHints(namespace="lead-op")) if f.id == "DOC006" and f.object == POD
    ]
    assert len(found) == 1, [f.id for f in diagnose(snap, DoctorHints(namespace="lead-op"))]
    return found[0]


def _storage_class(name: str, provisioner: str, default: bool = False) -> dict[str, Any]:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": annotations},
        "provisioner": provisioner,
        "volumeBindingMode": "Immediate",
    }


def _with(snap: ClusterSnapshot, classes: list[dict[str, Any]] | None, **claim_spec: Any) -> ClusterSnapshot:
    changed = copy.deepcopy(snap)
    changed.storage_classes = classes
    for claim in changed.claims:
        claim["spec"].update(claim_spec)
    return changed


def test_the_recorded_claims_and_the_empty_class_list_are_read(recorded: ClusterSnapshot) -> None:
    assert recorded.storage_classes == []
    assert sorted(c["metadata"]["name"] for c in recorded.claims) == [
        "models-qwen-a100-0",
        "models-qwen-l4-0",
    ]


def test_a_cluster_without_storage_classes_needs_a_provisioner(recorded: ClusterSnapshot) -> None:
    finding = _doc006(recorded)
    assert "models-qwen-l4-0 (ReadWriteOnce, 30Gi)" in finding.cause
    assert "the cluster has none at all" in finding.cause
    assert "ReadWriteMany" not in finding.cause + finding.fix  # the claim is ReadWriteOnce: no word about RWX
    assert finding.fix.startswith("Install a CSI driver") and finding.spec_field == "storage.storage_class"


def test_classes_but_no_default_names_them_and_the_annotation(recorded: ClusterSnapshot) -> None:
    classes = [
        _storage_class("fast", "pd.csi.storage.gke.io"),
        _storage_class("files", "filestore.csi.storage.gke.io"),
    ]
    finding = _doc006(_with(recorded, classes))
    assert "no default one (classes: fast, files)" in finding.cause
    assert "Set storage.storage_class to one of fast, files" in finding.fix
    assert "storageclass.kubernetes.io/is-default-class=true" in finding.fix


def test_a_default_class_that_does_not_provision_points_at_its_events(recorded: ClusterSnapshot) -> None:
    classes = [
        _storage_class("old", "ebs.csi.aws.com"),
        _storage_class("gp3", "ebs.csi.aws.com", default=True),
    ]
    finding = _doc006(_with(recorded, classes))
    assert "waits for the default class gp3" in finding.cause
    assert "kubectl describe pvc models-qwen-l4-0 -n lead-op" in finding.fix


def test_a_class_that_does_not_exist(recorded: ClusterSnapshot) -> None:
    classes = [_storage_class("standard-rwo", "pd.csi.storage.gke.io", default=True)]
    finding = _doc006(_with(recorded, classes, storageClassName="premium-rwx"))
    assert "names StorageClass premium-rwx, which does not exist (classes: standard-rwo)" in finding.cause


@pytest.mark.parametrize(
    ("provisioner", "block"),
    [("pd.csi.storage.gke.io", True), ("disk.csi.azure.com", True), ("filestore.csi.storage.gke.io", False)],
)
def test_read_write_many_on_block_storage(recorded: ClusterSnapshot, provisioner: str, block: bool) -> None:
    classes = [_storage_class("shared", provisioner)]
    finding = _doc006(_with(recorded, classes, storageClassName="shared", accessModes=["ReadWriteMany"]))
    assert ("block storage that attaches to one node at a time" in finding.cause) is block
    assert ("waits for StorageClass shared" in finding.cause) is not block


def test_read_write_once_on_block_storage_is_not_blamed_on_the_mode(recorded: ClusterSnapshot) -> None:
    classes = [_storage_class("standard-rwo", "pd.csi.storage.gke.io")]
    finding = _doc006(_with(recorded, classes, storageClassName="standard-rwo"))
    assert "waits for StorageClass standard-rwo (pd.csi.storage.gke.io)" in finding.cause


def test_unknown_classes_say_so_and_claims_not_read_fall_back(recorded: ClusterSnapshot) -> None:
    finding = _doc006(_with(recorded, None))
    assert "the StorageClasses could not be read" in finding.cause
    no_claims = copy.deepcopy(recorded)
    no_claims.claims = []
    fallback = _doc006(no_claims)
    assert "(models-qwen-l4-0) is not bound yet" in fallback.cause
    assert "kubectl get storageclass" in fallback.fix


def test_a_claim_bound_since_the_scheduler_wrote_is_not_blamed(recorded: ClusterSnapshot) -> None:
    bound = copy.deepcopy(recorded)
    for claim in bound.claims:
        claim["status"]["phase"] = "Bound"
    assert "is not bound yet" in _doc006(bound).cause
