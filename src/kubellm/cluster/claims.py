"""Why a pod's PersistentVolumeClaim is not bound, read from the claim and the cluster's StorageClasses.

The scheduler says only "pod has unbound immediate PersistentVolumeClaims". The cause is one of a few: the claim
names no class and the cluster has no default one (kubeadm, kind without its provisioner, EKS since 1.30), it
names a class that does not exist, it asks ReadWriteMany of block storage, or the provisioner has not answered.
The claims and classes come from the snapshot; when they could not be read the finding says what to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubellm.catalog.providers import is_default_storage_class
from kubellm.cluster.findings import Finding
from kubellm.cluster.objects import as_dict, as_list, dig, namespace_of, pod_spec
from kubellm.cluster.snapshot import ClusterSnapshot


@dataclass(frozen=True, slots=True)
class ClaimView:
    """What the diagnosis needs of one claim: name, access modes, size and the class it names (None: default)."""

    name: str
    access_modes: tuple[str, ...]
    size: str | None
    storage_class: str | None
    phase: str | None

    @property
    def shape(self) -> str:
        modes = "/".join(self.access_modes) or "no access mode"
        return f"{modes}, {self.size}" if self.size else modes


def pod_claim_names(pod: dict[str, Any]) -> list[str]:
    """The claims a pod mounts (a StatefulSet's per-replica claims appear here under their own names)."""
    names = [dig(v, "persistentVolumeClaim", "claimName") for v in as_list(pod_spec(pod).get("volumes"))]
    return [n for n in names if isinstance(n, str) and n]


def claim_view(claim: dict[str, Any]) -> ClaimView:
    spec = as_dict(claim.get("spec"))
    size = dig(spec, "resources", "requests", "storage")
    storage_class = spec.get("storageClassName")
    return ClaimView(
        name=str(dig(claim, "metadata", "name") or "?"),
        access_modes=tuple(m for m in spec.get("accessModes") or [] if isinstance(m, str)),
        size=str(size) if size is not None else None,
        storage_class=storage_class if isinstance(storage_class, str) else None,
        phase=phase if isinstance(phase := dig(claim, "status", "phase"), str) else None,
    )


def default_classes(classes: list[dict[str, Any]]) -> list[str]:
    """Names of the StorageClasses marked default (the API server admits the newest when several are)."""
    return [
        str(dig(sc, "metadata", "name"))
        for sc in classes
        if is_default_storage_class(as_dict(dig(sc, "metadata", "annotations")))
    ]


def _class_names(classes: list[dict[str, Any]]) -> list[str]:
    return sorted(str(dig(sc, "metadata", "name")) for sc in classes)


def _provisioner(classes: list[dict[str, Any]], name: str) -> str | None:
    for sc in classes:
        if dig(sc, "metadata", "name") == name:
            value = sc.get("provisioner")
            return value if isinstance(value, str) else None
    return None


def _why(claim: ClaimView, classes: list[dict[str, Any]] | None, namespace: str) -> tuple[str, str]:
    """(cause, fix) for one unbound claim."""
    describe = f"kubectl describe pvc {claim.name} -n {namespace}"
    if classes is None:
        return (
            f"claim {claim.name} ({claim.shape}, class {claim.storage_class or 'the default'}) is not bound; the "
            "StorageClasses could not be read",
            f"{describe}; kubectl get storageclass — set storage.storage_class to a class that provisions it",
        )
    names = _class_names(classes)
    listed = ", ".join(names) if names else "none"
    if claim.storage_class is None:
        if not names:
            return (
                f"claim {claim.name} ({claim.shape}) names no StorageClass and the cluster has none at all, so "
                "nothing provisions a volume for it",
                "Install a CSI driver with a StorageClass (your provider's disk or file driver; on a lab cluster "
                "a local-path provisioner), then set storage.storage_class to it",
            )
        if not default_classes(classes):
            return (
                f"claim {claim.name} ({claim.shape}) names no StorageClass and the cluster has no default one "
                f"(classes: {listed})",
                f"Set storage.storage_class to one of {listed}, or mark one default: kubectl annotate storageclass "
                f"{names[0]} storageclass.kubernetes.io/is-default-class=true",
            )
        return (
            f"claim {claim.name} ({claim.shape}) waits for the default class {default_classes(classes)[-1]}",
            f"{describe} shows the provisioner's error; set storage.storage_class if the default cannot provide "
            f"{claim.shape}",
        )
    provisioner = _provisioner(classes, claim.storage_class)
    if claim.storage_class not in names:
        return (
            f"claim {claim.name} names StorageClass {claim.storage_class}, which does not exist (classes: {listed})",
            f"Set storage.storage_class to one of {listed}",
        )
    if "ReadWriteMany" in claim.access_modes:
        from kubellm.catalog.providers import block_provisioners

        if provisioner in block_provisioners():
            return (
                f"claim {claim.name} asks ReadWriteMany of StorageClass {claim.storage_class} ({provisioner}), "
                "block storage that attaches to one node at a time",
                "Use a file storage class (NFS, Filestore, EFS, Azure Files) for a shared cache, or "
                "storage.access_mode: ReadWriteOnce for one cache per replica",
            )
    return (
        f"claim {claim.name} ({claim.shape}) waits for StorageClass {claim.storage_class} ({provisioner or '?'})",
        f"{describe} shows the provisioner's error (quota, zone, size or access mode it cannot provide)",
    )


def unbound_claims_finding(snap: ClusterSnapshot, pod: dict[str, Any], obj: str, evidence: str) -> Finding:
    """DOC006 for a pod the scheduler holds back for unbound claims, naming the cause per claim."""
    namespace = namespace_of(pod)
    by_name = {dig(c, "metadata", "name"): c for c in snap.claims if namespace_of(c) == namespace}
    known = [claim_view(by_name[n]) for n in pod_claim_names(pod) if n in by_name]
    unbound = [c for c in known if c.phase != "Bound"]
    if unbound:
        reasons = [_why(c, snap.storage_classes, namespace) for c in unbound]
        cause = "The model cache is not bound: " + "; ".join(r[0] for r in reasons) + "."
        fix = "; ".join(dict.fromkeys(r[1] for r in reasons)) + "."
    else:  # the claims were not read, or were bound since the scheduler wrote its message
        cause = f"The pod's PersistentVolumeClaim ({', '.join(pod_claim_names(pod)) or 'its claims'}) is not bound yet."
        fix = (
            f"kubectl describe pvc -n {namespace}; kubectl get storageclass — set storage.storage_class to a class "
            "that provisions the claim's size and access mode (ReadWriteMany, a shared cache, needs file storage "
            "such as NFS, Filestore or EFS)."
        )
    return Finding("DOC006", "disk", "error", obj, evidence, cause, fix, "storage.storage_class")
