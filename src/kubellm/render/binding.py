"""Will the model-cache claims bind on the cluster's provider? Refused before anything is applied.

A claim stays Pending forever when it asks for an access mode its StorageClass cannot give (ReadWriteMany
on block storage: GKE's standard-rwo, EBS, Azure Disk) or names no class where the cluster has no default
one (EKS clusters created on 1.30 or later). The provider facts come from the catalog
(``kubellm.catalog.providers``); each error names the field and the classes that would bind.
"""

from __future__ import annotations

from kubellm.catalog.providers import Provider, provider
from kubellm.errors import UsageError
from kubellm.render.storage import cache_mode
from kubellm.spec import LLMService


def _shared_classes(p: Provider, mode: str) -> str:
    names = [f"{c.name} ({c.note.split(':')[0]})" for c in p.storage.shared_classes if c.offers(mode)]
    return ", ".join(names) or "a class of a file system that offers it (NFS, CephFS)"


def check_cache_binds(spec: LLMService) -> None:
    """Raise a UsageError naming the fix when the cache claim of ``spec`` would not bind on its provider."""
    mode = cache_mode(spec)
    if mode not in ("per-replica", "shared"):
        return
    if spec.model.source.startswith("hf://") is False:
        return
    storage = spec.storage
    p = provider(spec.placement.provider)
    where = (
        f"on {p.name}" if p.name != "generic" else "on a cluster of unknown kind (placement.provider generic)"
    )
    if mode == "shared":
        access = storage.access_mode
        if access == "ReadOnlyMany":
            raise UsageError(
                "storage.access_mode ReadOnlyMany: a read-only claim cannot be filled by the prefetch Job",
                "fill the volume once (GKE Hyperdisk ML: populate it, then attach it ReadOnlyMany) and set "
                "model.source: pvc://<claim>/<path>; or use ReadWriteOnce (a cache per replica, the default)",
            )
        if storage.storage_class is None:
            raise UsageError(
                f"storage.access_mode {access} with no storage.storage_class: the default class {where} "
                + (
                    f"({p.storage.default_class.name}) is block storage that offers only ReadWriteOnce, so the "
                    "claim stays Pending"
                    if p.storage.default_class
                    else "is not known to offer it, and block storage (the usual default) never does"
                ),
                f"name a class that offers {access} in storage.storage_class — {_shared_classes(p, access)} — or "
                "use storage.access_mode: ReadWriteOnce (a cache per replica, binds on the default class)",
            )
        if p.storage.is_block(storage.storage_class):
            raise UsageError(
                f"storage.storage_class {storage.storage_class} is block storage {where}: it offers only "
                f"ReadWriteOnce, and the {access} claim stays Pending",
                f"use a class that offers {access} — {_shared_classes(p, access)} — or storage.access_mode: "
                "ReadWriteOnce",
            )
        known = p.storage.find(storage.storage_class)
        if known is not None and not known.offers(access):
            raise UsageError(
                f"storage.storage_class {known.name} does not offer {access} {where}",
                f"use one of: {_shared_classes(p, access)}",
            )
        return
    if storage.storage_class is None and p.name == "eks":
        raise UsageError(
            "storage.storage_class is unset, and EKS clusters created on Kubernetes 1.30 or later have no default "
            "StorageClass: the cache claims would stay Pending",
            "set storage.storage_class to an EBS class of the cluster: gp2 (present on every EKS cluster), your "
            "gp3 class, or a class with provisioner ebs.csi.eks.amazonaws.com on EKS Auto Mode",
        )
