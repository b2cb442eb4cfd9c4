"""Managed-Kubernetes providers as data: GPU node labels and taints, storage classes, identities, instance shapes.

Loaded once from ``data/providers.yaml`` (every fact there carries its source). Plain frozen dataclasses,
no arithmetic: the planner computes allocatable resources and picks instances (``kubellm.planning.instance``),
render turns labels, taints and classes into objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kubellm.errors import CatalogError

PROVIDER_NAMES = ("generic", "gke", "eks", "aks", "openshift")
GFD_PRODUCT_LABEL = "nvidia.com/gpu.product"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: str
    value: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class StorageClassInfo:
    """A StorageClass the provider offers: its name, driver and the access modes its volumes support."""

    name: str
    provisioner: str
    access_modes: tuple[str, ...]
    block: bool = False
    note: str = ""
    source: str = ""

    def offers(self, mode: str) -> bool:
        return mode in self.access_modes


@dataclass(frozen=True, slots=True)
class ProviderStorage:
    default_class: StorageClassInfo | None
    default_class_note: str = ""
    default_class_source: str = ""
    block_classes: tuple[str, ...] = ()
    shared_classes: tuple[StorageClassInfo, ...] = ()
    block_provisioners: tuple[str, ...] = ()

    def find(self, name: str) -> StorageClassInfo | None:
        """A class this provider documents, by name (the default class included)."""
        for info in (*([self.default_class] if self.default_class else []), *self.shared_classes):
            if info.name == name:
                return info
        return None

    def is_block(self, name: str) -> bool:
        """Whether the named class is known to be block storage (ReadWriteOnce only)."""
        found = self.find(name)
        return name in self.block_classes or (found is not None and found.block)


@dataclass(frozen=True, slots=True)
class Identity:
    """How a Kubernetes ServiceAccount is bound to a cloud identity (Workload Identity, IRSA, …)."""

    annotation: str
    example: str
    keda_provider: str
    pod_labels: tuple[tuple[str, str], ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class ObjectStore:
    """The CSI driver that mounts a bucket of one URL scheme (gs://, s3://)."""

    scheme: str
    csi_driver: str
    pod_annotations: tuple[tuple[str, str], ...] = ()
    static_only: bool = False
    source: str = ""


@dataclass(frozen=True, slots=True)
class PrometheusDefault:
    url: str
    auth: str
    note: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Reservation:
    """What the kubelet keeps back on a node, as the provider documents it (kind: gke | eks | aks)."""

    kind: str
    eviction_mib: int
    source: str
    cpu_tiers: tuple[tuple[float | None, float], ...] = ()
    memory_tiers_gib: tuple[tuple[float | None, float], ...] = ()
    memory_mib_per_pod: float = 0.0
    memory_mib_base: float = 0.0
    memory_mb_per_pod: float = 0.0
    memory_mb_base: float = 0.0
    memory_cap_fraction: float | None = None
    cpu_millicores_by_cores: tuple[tuple[int, int], ...] = ()
    max_pods: int | None = None


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance shape (VM size) with its GPUs, CPU, memory and on-demand price."""

    name: str
    gpu: str
    gpus: int
    vcpu: int
    memory_gib: float
    usd_per_hour: float | None
    source: str
    price_source: str
    machine: str = ""
    accelerator: str | None = None
    gpu_name: str | None = None
    max_pods: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    title: str
    gpu_selection: tuple[str, ...]
    gpu_selection_note: str
    gpu_selection_source: str
    storage: ProviderStorage
    gpu_label: str | None = None
    cloud_gpu_label_key: str | None = None
    gpu_taints: tuple[Taint, ...] = ()
    sharing_labels: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    mig_label: str | None = None
    mig_resource: str | None = None
    spot_labels: tuple[tuple[str, str], ...] = ()
    spot_taints: tuple[tuple[str, str], ...] = ()
    identity: Identity | None = None
    object_storage: dict[str, ObjectStore] = field(default_factory=dict)
    prometheus: PrometheusDefault | None = None
    reservation: Reservation | None = None
    price_region: str = ""
    instances: tuple[Instance, ...] = ()
    node_label_prefixes: tuple[str, ...] = ()

    def instances_for(self, gpu: str) -> tuple[Instance, ...]:
        """Every instance shape with this catalog GPU, fewest GPUs first, then cheapest."""
        found = [i for i in self.instances if i.gpu == gpu]
        return tuple(sorted(found, key=lambda i: (i.gpus, i.usd_per_hour or float("inf"), i.vcpu)))

    def instance(self, name: str) -> Instance | None:
        for item in self.instances:
            if item.name == name:
                return item
        return None


def _pairs(rows: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in (rows or []))


def _mapping(rows: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (rows or {}).items()))


def _class(row: dict[str, Any]) -> StorageClassInfo:
    return StorageClassInfo(
        name=row["name"],
        provisioner=row["provisioner"],
        access_modes=tuple(row["access_modes"]),
        block=bool(row.get("block", False)),
        note=row.get("note", ""),
        source=row.get("source", ""),
    )


def _storage(row: dict[str, Any]) -> ProviderStorage:
    default = row.get("default_class")
    return ProviderStorage(
        default_class=_class(default) if default else None,
        default_class_note=row.get("default_class_note", ""),
        default_class_source=row.get("default_class_source", default["source"] if default else ""),
        block_classes=tuple(row.get("block_classes", ())),
        shared_classes=tuple(_class(c) for c in row.get("shared_classes", ())),
        block_provisioners=tuple(row.get("block_provisioners", ())),
    )


def _tiers(rows: Any) -> tuple[tuple[float | None, float], ...]:
    return tuple((None if size is None else float(size), float(rate)) for size, rate in (rows or []))


def _reservation(row: dict[str, Any] | None) -> Reservation | None:
    if not row:
        return None
    return Reservation(
        kind=row["kind"],
        eviction_mib=int(row["eviction_mib"]),
        source=row["source"],
        cpu_tiers=_tiers(row.get("cpu_tiers")),
        memory_tiers_gib=_tiers(row.get("memory_tiers_gib")),
        memory_mib_per_pod=float(row.get("memory_mib_per_pod", 0)),
        memory_mib_base=float(row.get("memory_mib_base", 0)),
        memory_mb_per_pod=float(row.get("memory_mb_per_pod", 0)),
        memory_mb_base=float(row.get("memory_mb_base", 0)),
        memory_cap_fraction=row.get("memory_cap_fraction"),
        cpu_millicores_by_cores=tuple((int(c), int(m)) for c, m in row.get("cpu_millicores_by_cores", ())),
        max_pods=row.get("max_pods"),
    )


def _instance(row: dict[str, Any], provider: dict[str, Any]) -> Instance:
    return Instance(
        name=row["name"],
        machine=row.get("machine", row["name"]),
        gpu=row["gpu"],
        gpus=int(row["gpus"]),
        vcpu=int(row["vcpu"]),
        memory_gib=float(row["memory_gib"]),
        usd_per_hour=row.get("usd_per_hour"),
        source=row.get("source", provider.get("shapes_source", "")),
        price_source=provider.get("price_source", ""),
        accelerator=row.get("accelerator"),
        gpu_name=row.get("gpu_name"),
        max_pods=row.get("max_pods"),
        note=row.get("note", ""),
    )


def _provider(name: str, row: dict[str, Any]) -> Provider:
    identity = row.get("identity")
    prometheus = row.get("prometheus")
    mig = row.get("mig") or {}
    spot = row.get("spot") or {}
    return Provider(
        name=name,
        title=row["title"],
        gpu_selection=tuple(row["gpu_selection"]),
        gpu_selection_note=" ".join(str(row.get("gpu_selection_note", "")).split()),
        gpu_selection_source=row["gpu_selection_source"],
        gpu_label=row.get("gpu_label"),
        cloud_gpu_label_key=(row.get("cloud_gpu_labels") or {}).get("key"),
        storage=_storage(row["storage"]),
        gpu_taints=tuple(
            Taint(t["key"], t["effect"], t.get("value"), t.get("source", ""))
            for t in row.get("gpu_taints", ())
        ),
        sharing_labels={k: _mapping(v) for k, v in (row.get("sharing_labels") or {}).items()},
        mig_label=mig.get("label"),
        mig_resource=mig.get("resource"),
        spot_labels=_pairs(spot.get("labels")),
        spot_taints=_pairs(spot.get("taints")),
        identity=Identity(
            annotation=identity["annotation"],
            example=identity["example"],
            keda_provider=identity["keda_provider"],
            pod_labels=_mapping(identity.get("pod_labels")),
            source=identity["source"],
        )
        if identity
        else None,
        object_storage={
            scheme: ObjectStore(
                scheme=scheme,
                csi_driver=o["csi_driver"],
                pod_annotations=_mapping(o.get("pod_annotations")),
                static_only=bool(o.get("static_only", False)),
                source=o["source"],
            )
            for scheme, o in (row.get("object_storage") or {}).items()
        },
        prometheus=PrometheusDefault(**prometheus) if prometheus else None,
        reservation=_reservation(row.get("reservation")),
        price_region=row.get("price_region", ""),
        instances=tuple(_instance(i, row) for i in row.get("instances", ())),
        node_label_prefixes=tuple(row.get("node_label_prefixes", ())),
    )


def _load() -> dict[str, Any]:
    text = resources.files("kubellm.catalog").joinpath("data", "providers.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data


@cache
def all_providers() -> dict[str, Provider]:
    """Every provider by name; 'generic' spot labels are every provider's (nothing is known of the nodes)."""
    rows = _load()["providers"]
    loaded = {name: _provider(name, row) for name, row in rows.items()}
    union = tuple(dict.fromkeys(pair for p in loaded.values() for pair in p.spot_labels))
    taints = tuple(dict.fromkeys(pair for p in loaded.values() for pair in p.spot_taints))
    generic = loaded["generic"]
    loaded["generic"] = Provider(
        **{
            f: getattr(generic, f)
            for f in Provider.__dataclass_fields__
            if f not in ("spot_labels", "spot_taints")
        },
        spot_labels=union,
        spot_taints=taints,
    )
    return loaded


def provider(name: str) -> Provider:
    """One provider by name (generic, gke, eks, aks, openshift)."""
    found = all_providers().get(name)
    if found is None:
        raise CatalogError(
            f"unknown provider {name!r}", f"use one of: {', '.join(PROVIDER_NAMES)} (placement.provider)"
        )
    return found


def provider_cloud_labels() -> dict[str, tuple[tuple[str, str], ...]]:
    """Per catalog GPU name: the (label, value) pairs that name it on some provider's nodes (for lookups).

    A value two GPUs share (Karpenter's 'a100' names the 40 GB and the 80 GB card) identifies neither and is
    left out.
    """
    owners: dict[tuple[str, str], set[str]] = {}
    for p in all_providers().values():
        for i in p.instances:
            if i.accelerator:
                owners.setdefault((GKE_ACCELERATOR_LABEL, i.accelerator), set()).add(i.gpu)
            if i.gpu_name and p.cloud_gpu_label_key:
                owners.setdefault((p.cloud_gpu_label_key, i.gpu_name), set()).add(i.gpu)
    out: dict[str, list[tuple[str, str]]] = {}
    for pair, gpus in owners.items():
        if len(gpus) == 1:
            out.setdefault(next(iter(gpus)), []).append(pair)
    return {gpu: tuple(sorted(pairs)) for gpu, pairs in out.items()}


# The annotations that mark a cluster's default StorageClass (the beta one is still honoured by the API server).
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def is_default_storage_class(annotations: dict[str, object]) -> bool:
    """Whether a StorageClass's annotations mark it as the cluster's default."""
    return any(str(annotations.get(a, "")).lower() == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


def block_provisioners() -> frozenset[str]:
    """Every CSI driver (and in-tree plugin) known to provision block storage, which offers only ReadWriteOnce."""
    return frozenset(d for p in all_providers().values() for d in p.storage.block_provisioners)


def provider_of_labels(keys: list[str]) -> Provider | None:
    """The provider whose node labels (by prefix) some of ``keys`` are, when exactly one matches."""
    found = {
        p.name
        for p in all_providers().values()
        for k in keys
        for prefix in p.node_label_prefixes
        if k.startswith(prefix)
    }
    return provider(found.pop()) if len(found) == 1 else None
