"""REL013: a ReadWriteMany claim whose class — named, or the cluster's default — is block storage."""

from __future__ import annotations

import pytest

from .cases import lint_yaml

GKE_POD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: llama, namespace: llm}
spec:
  selector: {matchLabels: {app: llama}}
  template:
    metadata: {labels: {app: llama}}
    spec:
      nodeSelector: {NODE_LABEL: nvidia-l4}
      containers: [{name: c, image: busybox:1.36}]
      volumes: [{name: models, persistentVolumeClaim: {claimName: models}}]
"""


def _pvc(spec: str) -> str:
    return f"---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: models, namespace: llm}}\nspec: {spec}\n"


def _sc(name: str, provisioner: str, default: bool = False) -> str:
    annotations = "{storageclass.kubernetes.io/is-default-class: 'true'}" if default else "{}"
    return (f"---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: {name}, annotations: {annotations}}}\n"
            f"provisioner: {provisioner}\n")  # fmt: skip


def _ids(text: str) -> list[str]:
    return [f.rule for f in lint_yaml(text, select=["REL013"]).findings]


FAILING = {
    "named GKE block class": _pvc("{accessModes: [ReadWriteMany], storageClassName: standard-rwo, resources: {requests: {storage: 30Gi}}}"),
    "EBS class on an EKS set": GKE_POD.replace("NODE_LABEL", "karpenter.k8s.aws/instance-gpu-name")
    + _pvc("{accessModes: [ReadWriteMany], storageClassName: gp2, resources: {requests: {storage: 30Gi}}}"),
    "no class, GKE nodes (default standard-rwo)": GKE_POD.replace("NODE_LABEL", "cloud.google.com/gke-accelerator")
    + _pvc("{accessModes: [ReadWriteMany], resources: {requests: {storage: 30Gi}}}"),
    "no class, default StorageClass in the set is Azure Disk": _sc("managed", "disk.csi.azure.com", default=True)
    + _pvc("{accessModes: [ReadWriteMany], resources: {requests: {storage: 30Gi}}}"),
    "StatefulSet template on a custom class with the EBS CSI driver": _sc("fast", "ebs.csi.aws.com")
    + """---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: llama, namespace: llm}
spec:
  serviceName: llama
  selector: {matchLabels: {app: llama}}
  template: {metadata: {labels: {app: llama}}, spec: {containers: [{name: c, image: busybox:1.36}]}}
  volumeClaimTemplates:
  - metadata: {name: models}
    spec: {accessModes: [ReadWriteMany], storageClassName: fast, resources: {requests: {storage: 30Gi}}}
""",
    "no class on EKS (no default class since 1.30)": GKE_POD.replace("NODE_LABEL", "eks.amazonaws.com/nodegroup")
    + _pvc("{accessModes: [ReadWriteMany], resources: {requests: {storage: 30Gi}}}"),
}  # fmt: skip

PASSING = {
    "Filestore class": _pvc("{accessModes: [ReadWriteMany], storageClassName: standard-rwx, resources: {requests: {storage: 1Ti}}}"),
    "ReadWriteOnce on block storage": _pvc("{accessModes: [ReadWriteOnce], storageClassName: standard-rwo, resources: {requests: {storage: 30Gi}}}"),
    "EFS class in the set": _sc("efs-sc", "efs.csi.aws.com")
    + _pvc("{accessModes: [ReadWriteMany], storageClassName: efs-sc, resources: {requests: {storage: 30Gi}}}"),
    "no class, unknown cluster": _pvc("{accessModes: [ReadWriteMany], resources: {requests: {storage: 30Gi}}}"),
    "no class, default StorageClass in the set is NFS": _sc("nfs", "nfs.csi.k8s.io", default=True)
    + _pvc("{accessModes: [ReadWriteMany], resources: {requests: {storage: 30Gi}}}"),
    "raw block volume (multi-writer disks)": _pvc("{accessModes: [ReadWriteMany], volumeMode: Block, storageClassName: standard-rwo, resources: {requests: {storage: 30Gi}}}"),
    "a class named 'default' on a cluster of unknown kind": _pvc("{accessModes: [ReadWriteMany], storageClassName: default, resources: {requests: {storage: 30Gi}}}"),
}  # fmt: skip


@pytest.mark.parametrize("text", FAILING.values(), ids=FAILING.keys())
def test_rwx_claims_on_block_storage_are_flagged(text: str) -> None:
    assert _ids(text) == ["REL013"]


@pytest.mark.parametrize("text", PASSING.values(), ids=PASSING.keys())
def test_claims_that_bind_are_left_alone(text: str) -> None:
    assert _ids(text) == []


def test_the_message_names_the_classes_that_would_bind_on_that_provider() -> None:
    (finding,) = lint_yaml(FAILING["no class, GKE nodes (default standard-rwo)"], select=["REL013"]).findings
    assert "standard-rwo" in finding.message and "standard-rwx (gke)" in finding.message
    assert "efs-sc" not in finding.message
