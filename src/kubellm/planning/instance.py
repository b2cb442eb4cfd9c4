"""Which instance shape a replica's pods run on: allocatable CPU and memory after the provider's reservations,
how many pods share a node, and what one replica costs there.

Pure arithmetic over the catalog's provider data (``kubellm.catalog.providers``): the reservation formulas are
the providers' own (GKE's tiers, the EKS AMI's nodeadm, AKS's table), cited in ``providers.yaml``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from kubellm.catalog.providers import Instance, Provider, Reservation, provider
from kubellm.planning.result import Decision, InstancePlan, PodResources
from kubellm.spec import LLMService

# kubellm's assumption, not a provider fact: what the provider's own DaemonSets (logging agent, metadata
# server, CSI node plugins, GPU device plugin, kube-proxy, CNI) request on every node, kept free of engine pods.
DAEMONSET_CPU_MILLICORES = 400
DAEMONSET_MEMORY_MIB = 1024


@dataclass(frozen=True, slots=True)
class Allocatable:
    """What pods may request on a node: capacity − kube/system reservation − hard-eviction threshold."""

    cpu_millicores: int
    memory_mib: int


def _tiered(total: float, tiers: tuple[tuple[float | None, float], ...]) -> float:
    """Sum of rate × the part of ``total`` in each tier (a tier size of None takes the rest)."""
    reserved, start = 0.0, 0.0
    for size, rate in tiers:
        end = math.inf if size is None else start + size
        if total > start:
            reserved += (min(total, end) - start) * rate
        start = end
    return reserved


def _aks_cpu_millicores(cores: int, table: tuple[tuple[int, int], ...]) -> float:
    """AKS's table, interpolated between listed core counts and extended past the last with its last slope."""
    points = sorted(table)
    if cores <= points[0][0]:
        return float(points[0][1])
    for (c0, m0), (c1, m1) in itertools.pairwise(points):
        if cores <= c1:
            return m0 + (m1 - m0) * (cores - c0) / (c1 - c0)
    (c0, m0), (c1, m1) = points[-2], points[-1]
    return m1 + (m1 - m0) / (c1 - c0) * (cores - c1)


def reserved(instance: Instance, reservation: Reservation) -> Allocatable:
    """CPU (millicores) and memory (MiB) the kubelet keeps back on ``instance``, eviction threshold included."""
    memory_mib = instance.memory_gib * 1024
    if reservation.kind == "gke":
        cpu = _tiered(instance.vcpu, reservation.cpu_tiers) * 1000
        memory = _tiered(instance.memory_gib, reservation.memory_tiers_gib) * 1024
    elif reservation.kind == "eks":
        cpu = _tiered(instance.vcpu, reservation.cpu_tiers) * 1000
        pods = instance.max_pods or 110
        memory = reservation.memory_mib_per_pod * pods + reservation.memory_mib_base
    elif reservation.kind == "aks":
        cpu = _aks_cpu_millicores(instance.vcpu, reservation.cpu_millicores_by_cores)
        pods = instance.max_pods or reservation.max_pods or 110
        megabytes = reservation.memory_mb_per_pod * pods + reservation.memory_mb_base
        memory = megabytes * 1e6 / 2**20  # the AKS formula is in MB
        if reservation.memory_cap_fraction is not None:
            memory = min(memory, reservation.memory_cap_fraction * memory_mib)
    else:
        raise ValueError(f"unknown reservation kind {reservation.kind!r}")
    return Allocatable(cpu_millicores=math.ceil(cpu), memory_mib=math.ceil(memory + reservation.eviction_mib))


def allocatable(instance: Instance, reservation: Reservation | None) -> Allocatable:
    """Node allocatable as the kubelet reports it (capacity when the provider documents no reservation)."""
    cpu, memory = instance.vcpu * 1000, round(instance.memory_gib * 1024)
    if reservation is None:
        return Allocatable(cpu, memory)
    held = reserved(instance, reservation)
    return Allocatable(cpu - held.cpu_millicores, memory - held.memory_mib)


def pod_demand(resources: PodResources) -> tuple[int, int]:
    """(CPU millicores, memory MiB) one engine pod requests: host memory plus a memory-backed /dev/shm."""
    memory_gib = math.ceil(resources.memory_gib + resources.shm_gib)
    return resources.cpu * 1000, memory_gib * 1024


def _plan_on(provider: Provider, instance: Instance, resources: PodResources, nodes: int) -> InstancePlan:
    gpus_per_pod = max(1, resources.gpu_count)
    pods_per_node = instance.gpus // gpus_per_pod
    node = allocatable(instance, provider.reservation)
    share_cpu = (node.cpu_millicores - DAEMONSET_CPU_MILLICORES) // max(1, pods_per_node)
    share_memory = (node.memory_mib - DAEMONSET_MEMORY_MIB) // max(1, pods_per_node)
    cpu, memory = pod_demand(resources)
    fits = pods_per_node >= 1 and cpu <= share_cpu and memory <= share_memory
    per_replica = (
        instance.usd_per_hour * gpus_per_pod * nodes / instance.gpus
        if instance.usd_per_hour is not None
        else None
    )
    basis = (
        f"{provider.name.upper()} {instance.name} on-demand {provider.price_region} ${instance.usd_per_hour:g}/h "
        f"({gpus_per_pod} of its {instance.gpus} GPU{'s' if instance.gpus > 1 else ''}"
        + (f" × {nodes} nodes" if nodes > 1 else "")
        + ")"
        if instance.usd_per_hour is not None
        else f"no price known for {instance.name}"
    )
    return InstancePlan(
        provider=provider.name,
        name=instance.name,
        gpus=instance.gpus,
        vcpu=instance.vcpu,
        memory_gib=instance.memory_gib,
        allocatable_cpu=round(node.cpu_millicores / 1000, 3),
        allocatable_memory_gib=round(node.memory_mib / 1024, 2),
        pod_share_cpu=round(max(0, share_cpu) / 1000, 3),
        pod_share_memory_gib=round(max(0, share_memory) / 1024, 2),
        pods_per_node=pods_per_node,
        fits=fits,
        usd_per_hour=instance.usd_per_hour,
        usd_per_replica_hour=round(per_replica, 4) if per_replica is not None else None,
        price_basis=basis,
        source=instance.source,
        price_source=instance.price_source,
        reservation_source=provider.reservation.source if provider.reservation else "",
        note=instance.note,
    )


def choose_instance(
    provider: Provider, gpu: str, resources: PodResources, *, nodes: int = 1, pinned: str | None = None
) -> InstancePlan | None:
    """The cheapest shape (per replica) whose pod share holds the pod; the biggest one, not fitting, else.

    ``pinned`` (placement.instance_type) is planned as given, fitting or not. None when the provider lists no
    shape with this GPU.
    """
    if pinned is not None:
        chosen = provider.instance(pinned)
        return _plan_on(provider, chosen, resources, nodes) if chosen is not None else None
    gpus_per_pod = max(1, resources.gpu_count)
    candidates = [i for i in provider.instances_for(gpu) if i.gpus >= gpus_per_pod]
    if not candidates:
        return None
    plans = [_plan_on(provider, i, resources, nodes) for i in candidates]
    fitting = [p for p in plans if p.fits]
    if fitting:
        priced = [p for p in fitting if p.usd_per_replica_hour is not None]
        pool = priced or fitting
        return min(pool, key=lambda p: (p.usd_per_replica_hour or 0.0, p.vcpu, p.name))
    return max(plans, key=lambda p: (p.pod_share_memory_gib, p.pod_share_cpu, -(p.usd_per_hour or 0.0)))


def plan_instance(
    spec: LLMService, gpu: str, resources: PodResources, nodes: int
) -> tuple[InstancePlan | None, Decision | None, str | None]:
    """The instance of ``spec.placement.provider`` the pods are sized and priced for, with the decision (or the
    warning) that explains it; (None, None, None) for generic clusters and CPU pods."""
    placement = spec.placement
    where = provider(placement.provider)
    if not where.instances or resources.gpu_count == 0:  # generic, OpenShift: no shapes to size for
        return None, None, None
    chosen = choose_instance(where, gpu, resources, nodes=nodes, pinned=placement.instance_type)
    if chosen is None:
        known = sorted({i.gpu for i in where.instances})
        named = f"named {placement.instance_type!r} " if placement.instance_type else ""
        return (
            None,
            None,
            (
                f"{where.title} lists no instance shape {named}with {gpu} GPUs in kubellm's catalog (it has: "
                f"{', '.join(known) or 'none'}); the plan names no instance and prices the GPU alone"
            ),
        )
    cpu, memory = pod_demand(resources)
    why = (
        f"the pod requests {cpu / 1000:g} CPU and {memory / 1024:g} GiB (with /dev/shm); {chosen.name} "
        f"({chosen.vcpu} vCPU, {chosen.memory_gib:g} GiB, {chosen.gpus} GPU) leaves {chosen.allocatable_cpu:g} CPU "
        f"and {chosen.allocatable_memory_gib:g} GiB allocatable after {where.title}'s reservations: "
        f"{chosen.pod_share_cpu:g} CPU / {chosen.pod_share_memory_gib:g} GiB per pod with {chosen.pods_per_node} "
        "pod(s) per node, after the system DaemonSets"
    )
    if not chosen.fits:
        return (
            chosen,
            None,
            (
                f"instance {chosen.name}: {why} — the pod does not fit and stays Pending; pick a larger "
                "placement.instance_type or lower the requests"
            ),
        )
    picked = (
        "set by placement.instance_type" if placement.instance_type else "the cheapest shape that holds it"
    )
    return chosen, Decision(what=f"instance={chosen.name}", why=f"{picked}: {why}"), None


def mig_resource(spec: LLMService) -> str | None:
    """The resource a MIG slice is requested as when the provider fixes it (GKE: nvidia.com/gpu), else None."""
    return provider(spec.placement.provider).mig_resource
