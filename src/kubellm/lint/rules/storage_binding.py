"""A ReadWriteMany claim on block storage never binds: the PVC stays Pending and so does every pod mounting it.

The class is the claim's ``storageClassName``, or the cluster's default class when it names none. It is
known to be block storage when a StorageClass of the set has a block provisioner (Persistent Disk, EBS,
Azure Disk, Ceph RBD), when the catalog's provider data lists the name as a block class, or — for a claim
without a class — when the set has no default StorageClass and its node labels point at a provider whose
default class is block (GKE's standard-rwo, AKS's default) or that has none (EKS since 1.30).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubellm.lint.context import LintContext
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.registry import rule
from kubellm.lint.workload import as_dict, as_list

if TYPE_CHECKING:  # the provider data is imported when a ReadWriteMany claim is seen, not on every run
    from kubellm.catalog.providers import Provider


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim spec in the set and where it is (a PVC, a claim template, an ephemeral volume)."""

    obj: K8sObject
    path: str
    spec: dict[str, Any]


def _claims(ctx: LintContext) -> Iterator[Claim]:
    """PVCs, StatefulSet/LeaderWorkerSet volumeClaimTemplates and generic ephemeral volumes of the set."""
    for obj in ctx.by_kind("PersistentVolumeClaim"):
        yield Claim(obj, "spec", obj.spec)
    for obj in ctx.by_kind("StatefulSet"):
        for i, template in enumerate(as_list(obj.spec.get("volumeClaimTemplates"))):
            yield Claim(obj, f"spec.volumeClaimTemplates[{i}].spec", as_dict(as_dict(template).get("spec")))
    for obj in ctx.by_kind("LeaderWorkerSet"):
        lwt = as_dict(obj.spec.get("leaderWorkerTemplate"))
        for i, template in enumerate(as_list(lwt.get("volumeClaimTemplates"))):
            path = f"spec.leaderWorkerTemplate.volumeClaimTemplates[{i}].spec"
            yield Claim(obj, path, as_dict(as_dict(template).get("spec")))
    for pod in ctx.pods:
        for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
            template = as_dict(as_dict(as_dict(volume).get("ephemeral")).get("volumeClaimTemplate"))
            if template:
                yield Claim(
                    pod.obj,
                    f"{pod.path}.volumes[{i}].ephemeral.volumeClaimTemplate.spec",
                    as_dict(template.get("spec")),
                )


def _node_label_keys(ctx: LintContext) -> list[str]:
    keys: list[str] = []
    for pod in ctx.pods:
        keys += [str(k) for k in as_dict(pod.spec.get("nodeSelector"))]
        required = as_dict(as_dict(as_dict(pod.spec.get("affinity")).get("nodeAffinity")).get(
            "requiredDuringSchedulingIgnoredDuringExecution"))  # fmt: skip
        for term in as_list(required.get("nodeSelectorTerms")):
            keys += [str(as_dict(e).get("key")) for e in as_list(as_dict(term).get("matchExpressions"))]
    return keys


def _is_default(sc: K8sObject) -> bool:
    from kubellm.catalog.providers import is_default_storage_class

    return is_default_storage_class(sc.annotations)


def _shared_hint(p: Provider | None) -> str:
    from kubellm.catalog.providers import all_providers

    providers = [p] if p is not None else [all_providers()[n] for n in ("gke", "eks", "aks")]
    names = [
        f"{c.name} ({q.name})"
        for q in providers
        for c in q.storage.shared_classes
        if c.offers("ReadWriteMany")
    ]
    return ", ".join(names)


def _block_reason(name: str | None, ctx: LintContext, where: Provider | None) -> str | None:
    """Why the class a claim gets is block storage, or None when that is not known."""
    from kubellm.catalog.providers import all_providers, block_provisioners

    classes = {sc.name: sc for sc in ctx.by_kind("StorageClass")}
    if name is None:
        defaults = [sc for sc in classes.values() if _is_default(sc)]
        if defaults:
            sc = defaults[0]
            provisioner = str(sc.data.get("provisioner"))
            return (
                f"the default StorageClass {sc.name} ({provisioner}) is block storage"
                if provisioner in block_provisioners()
                else None
            )
        if where is None:
            return None
        default = where.storage.default_class
        if default is None:
            return f"{where.title} clusters created on 1.30 or later have no default StorageClass at all"
        return f"the default StorageClass on {where.name} is {default.name} ({default.provisioner}), block storage"
    if name in classes:
        provisioner = str(classes[name].data.get("provisioner"))
        return (
            f"StorageClass {name} ({provisioner}) is block storage"
            if provisioner in block_provisioners()
            else None
        )
    owners = [p for p in all_providers().values() if p.storage.is_block(name)]
    if where is not None:
        owners = [p for p in owners if p.name == where.name]
    elif name == "default":
        return None  # AKS's default class name; on other clusters 'default' can be anything
    if owners:
        return f"StorageClass {name} is block storage on {owners[0].name}"
    return None


@rule(
    "REL013",
    "rwx-claim-on-block-storage",
    Severity.WARNING,
    "A ReadWriteMany claim asks a block-storage class, which offers only ReadWriteOnce",
    why="Block storage (GKE Persistent Disk `standard-rwo`, EBS `gp2`/`gp3`, Azure Disk `default`/`managed-csi`) "
    "attaches to one node at a time; a ReadWriteMany claim on it is never provisioned, so the PVC and every pod "
    "mounting it stay Pending ('waiting for first consumer' / 'volume capabilities not supported'). GKE's and "
    "AKS's default classes are block storage, and EKS clusters since 1.30 have no default class at all.",
    fix="Give each replica its own ReadWriteOnce claim (StatefulSet `volumeClaimTemplates`), or name a class that "
    "offers ReadWriteMany in `storageClassName`: Filestore `standard-rwx` (GKE), EFS `efs-sc` (EKS), "
    "`azurefile-csi` (AKS).",
    bad="kind: PersistentVolumeClaim\nspec: {accessModes: [ReadWriteMany], storageClassName: standard-rwo}",
    good="kind: PersistentVolumeClaim\nspec: {accessModes: [ReadWriteMany], storageClassName: standard-rwx}",
    sources=(
        "https://cloud.google.com/kubernetes-engine/docs/concepts/persistent-volumes",
        "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions-standard.html",
        "https://learn.microsoft.com/en-us/azure/aks/concepts-storage#storage-classes",
    ),
    scope="set",
)
def rwx_claim_on_block_storage(ctx: LintContext) -> Iterator[Hit]:
    located: list[Provider | None] = []  # the provider, looked up at the first ReadWriteMany claim
    for claim in _claims(ctx):
        modes = [str(m) for m in as_list(claim.spec.get("accessModes"))]
        if "ReadWriteMany" not in modes or claim.spec.get("volumeMode") == "Block":
            continue
        if not located:
            from kubellm.catalog.providers import provider_of_labels

            located.append(provider_of_labels(_node_label_keys(ctx)))
        where = located[0]
        name = claim.spec.get("storageClassName")
        reason = _block_reason(str(name) if name else None, ctx, where)
        if reason is None:
            continue
        yield Hit(
            f"ReadWriteMany claim on block storage: {reason}; the claim stays Pending "
            f"(classes that offer ReadWriteMany: {_shared_hint(where)})",
            f"{claim.path}.storageClassName" if name else f"{claim.path}.accessModes",
            obj=claim.obj,
        )
