"""Choosing and pricing an instance shape on made-up shapes, so each rule shows alone: the pod's share of a
node, the boundary where a pod just fits, the price of a replica over several nodes, the cheapest shape
(priced before unpriced, then fewer vCPUs, then the name), the biggest share when none fits, and the
reservation tables' edges (AKS's CPU table below, on and past its points; the pod-count defaults)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kubellm.catalog.providers import Instance, Provider, Reservation, provider
from kubellm.planning.instance import (
    DAEMONSET_CPU_MILLICORES,
    DAEMONSET_MEMORY_MIB,
    allocatable,
    choose_instance,
    plan_instance,
    pod_demand,
    reserved,
)
from kubellm.planning.result import PodResources
from kubellm.spec import LLMService

# A reservation of exactly 600 millicores and nothing else: a node of c + 1 vCPUs leaves c cores to the
# engine pod once the DaemonSets' 400 millicores are taken.
FLAT_600M = Reservation(
    kind="eks", eviction_mib=0, source="https://example.com", cpu_tiers=((1, 0.6), (None, 0.0))
)


def _shape(name: str, *, gpus: int = 1, vcpu: int = 8, memory_gib: float = 64, usd: float | None = 1.0,
           note: str = "", max_pods: int | None = None) -> Instance:  # fmt: skip
    return Instance(name=name, gpu="L4", gpus=gpus, vcpu=vcpu, memory_gib=memory_gib, usd_per_hour=usd,
                    source="https://example.com/shape", price_source="https://example.com/price", note=note,
                    max_pods=max_pods)  # fmt: skip


def _cloud(*shapes: Instance, reservation: Reservation | None = None) -> Provider:
    return dataclasses.replace(provider("eks"), instances=shapes, reservation=reservation, price_region="r1")


def _pod(cpu: int = 4, memory_gib: int = 16, shm_gib: float = 0.0, gpus: int = 1) -> PodResources:
    return PodResources(cpu=cpu, memory_gib=memory_gib, shm_gib=shm_gib, ephemeral_storage_gib=10,
                        gpu_resource="nvidia.com/gpu", gpu_count=gpus, model_cache_gib=20)  # fmt: skip


def test_a_pod_asking_exactly_its_share_fits_and_one_more_does_not() -> None:
    # memory: no reservation, so a node of m + 1 GiB leaves m GiB after the DaemonSets' 1 GiB
    cloud = _cloud(_shape("m", memory_gib=17))
    assert DAEMONSET_MEMORY_MIB == 1024
    exact = choose_instance(cloud, "L4", _pod(memory_gib=16))
    assert exact is not None and exact.fits and exact.pod_share_memory_gib == 16
    over = choose_instance(cloud, "L4", _pod(memory_gib=15, shm_gib=1.5))  # 16.5 → 17 GiB requested
    assert over is not None and not over.fits
    # CPU: 600 millicores reserved, 400 for the DaemonSets
    assert DAEMONSET_CPU_MILLICORES == 400
    cloud = _cloud(_shape("c", vcpu=9), reservation=FLAT_600M)
    exact = choose_instance(cloud, "L4", _pod(cpu=8))
    assert exact is not None and exact.fits and exact.pod_share_cpu == 8 and exact.allocatable_cpu == 8.4
    over = choose_instance(cloud, "L4", _pod(cpu=9))
    assert over is not None and not over.fits


def test_pods_per_node_are_whole_pods_and_share_the_node_evenly() -> None:
    # 3 GPUs hold one 2-GPU pod (not one and a half); 8 GPUs hold four, each with a quarter of the rest
    three = choose_instance(_cloud(_shape("g3", gpus=3, vcpu=33, memory_gib=129)), "L4", _pod(gpus=2))
    assert three is not None and three.pods_per_node == 1 and three.pod_share_cpu == 32.6
    eight = choose_instance(_cloud(_shape("g8", gpus=8, vcpu=33, memory_gib=129)), "L4", _pod(gpus=2))
    assert eight is not None and eight.pods_per_node == 4
    assert eight.pod_share_cpu == 8.15  # (33000 − 400) // 4 millicores
    assert eight.pod_share_memory_gib == 32.0  # (132096 − 1024) // 4 MiB


def test_shares_are_whole_millicores_and_never_below_zero() -> None:
    three = choose_instance(_cloud(_shape("g3", gpus=3, vcpu=33, memory_gib=129)), "L4", _pod())
    assert three is not None and three.pods_per_node == 3
    assert three.pod_share_cpu == 10.866  # (33000 − 400) // 3 millicores
    tiny = choose_instance(_cloud(_shape("tiny", vcpu=0, memory_gib=0.5)), "L4", _pod())
    assert tiny is not None and not tiny.fits and tiny.pod_share_cpu == 0 and tiny.pod_share_memory_gib == 0


def test_the_reservations_source_is_named_when_there_is_one() -> None:
    plain = choose_instance(_cloud(_shape("x")), "L4", _pod())
    reserved_ = choose_instance(_cloud(_shape("x", vcpu=9), reservation=FLAT_600M), "L4", _pod())
    assert plain is not None and plain.reservation_source == ""
    assert reserved_ is not None and reserved_.reservation_source == "https://example.com"


def test_a_replica_over_several_nodes_pays_for_its_gpus_on_each() -> None:
    cloud = _cloud(_shape("p8", gpus=8, vcpu=192, memory_gib=2048, usd=80.0))
    one = choose_instance(cloud, "L4", _pod(gpus=4))
    two = choose_instance(cloud, "L4", _pod(gpus=4), nodes=2)
    assert one is not None and two is not None
    assert one.usd_per_replica_hour == 40.0 and two.usd_per_replica_hour == 80.0
    assert one.usd_per_hour == 80.0
    assert one.price_basis == "EKS p8 on-demand r1 $80/h (4 of its 8 GPUs)"
    assert two.price_basis == "EKS p8 on-demand r1 $80/h (4 of its 8 GPUs × 2 nodes)"
    single = choose_instance(_cloud(_shape("p1", usd=0.5, note="spot only")), "L4", _pod())
    assert single is not None and single.price_basis == "EKS p1 on-demand r1 $0.5/h (1 of its 1 GPU)"
    assert single.note == "spot only" and single.source == "https://example.com/shape"
    pair = choose_instance(_cloud(_shape("p2", gpus=2, usd=2.0)), "L4", _pod())
    assert pair is not None and pair.price_basis == "EKS p2 on-demand r1 $2/h (1 of its 2 GPUs)"


def test_a_shape_without_a_price_is_planned_but_not_priced() -> None:
    chosen = choose_instance(_cloud(_shape("free", usd=None)), "L4", _pod())
    assert chosen is not None and chosen.fits
    assert chosen.usd_per_hour is None and chosen.usd_per_replica_hour is None
    assert chosen.price_basis == "no price known for free"


def test_the_cheapest_fitting_shape_wins_priced_before_unpriced_then_fewer_vcpus_then_the_name() -> None:
    pod = _pod()
    cheapest = choose_instance(_cloud(_shape("dear", usd=2.0), _shape("cheap", usd=1.0, vcpu=16)), "L4", pod)
    assert cheapest is not None and cheapest.name == "cheap"
    # an unpriced shape is not taken for free while a priced one fits
    priced = choose_instance(_cloud(_shape("unpriced", usd=None), _shape("priced", usd=9.0)), "L4", pod)
    assert priced is not None and priced.name == "priced"
    only_unpriced = choose_instance(
        _cloud(_shape("u2", usd=None, vcpu=16), _shape("u1", usd=None)), "L4", pod
    )
    assert only_unpriced is not None and only_unpriced.name == "u1"  # fewer vCPUs
    same = choose_instance(
        _cloud(_shape("b", vcpu=16), _shape("a", vcpu=16), _shape("c", vcpu=12)), "L4", pod
    )
    assert same is not None and same.name == "c"
    tie = choose_instance(_cloud(_shape("b"), _shape("a")), "L4", pod)
    assert tie is not None and tie.name == "a"
    # a shape with too few GPUs for the pod is no candidate, and no candidate at all is None
    assert choose_instance(_cloud(_shape("one", gpus=1)), "L4", _pod(gpus=2)) is None
    assert choose_instance(_cloud(_shape("h", gpus=1)), "H100", pod) is None


def test_when_nothing_fits_the_biggest_share_is_named_the_cheaper_on_a_tie() -> None:
    pod = _pod(cpu=64, memory_gib=512)
    big = choose_instance(_cloud(_shape("small", memory_gib=64), _shape("big", memory_gib=128)), "L4", pod)
    assert big is not None and big.name == "big" and not big.fits
    more_cpu = choose_instance(_cloud(_shape("c16", vcpu=16), _shape("c8", vcpu=8)), "L4", pod)
    assert more_cpu is not None and more_cpu.name == "c16"
    dear, cheap = _shape("dear", usd=9.0), _shape("cheap", usd=3.0)
    assert choose_instance(_cloud(dear, cheap), "L4", pod).name == "cheap"  # type: ignore[union-attr]
    assert choose_instance(_cloud(cheap, dear), "L4", pod).name == "cheap"  # type: ignore[union-attr]


def test_a_pinned_shape_is_planned_as_given_and_an_unknown_one_is_none() -> None:
    cloud = _cloud(_shape("small", memory_gib=8), _shape("big"))
    pinned = choose_instance(cloud, "L4", _pod(), pinned="small")
    assert pinned is not None and pinned.name == "small" and not pinned.fits
    assert choose_instance(cloud, "L4", _pod(), pinned="nope") is None


def test_pod_demand_and_capacity_without_a_reservation() -> None:
    assert pod_demand(_pod(cpu=6, memory_gib=20, shm_gib=2.5)) == (6000, 23 * 1024)
    shape = _shape("x", vcpu=12, memory_gib=46.5)
    node = allocatable(shape, None)
    assert (node.cpu_millicores, node.memory_mib) == (12000, 47616)


def test_aks_cpu_table_below_on_between_and_past_its_points() -> None:
    aks = provider("aks").reservation
    assert aks is not None
    table = dict(aks.cpu_millicores_by_cores)
    for cores in (1, 2, 4, 16, 64):
        assert reserved(_shape("x", vcpu=cores), aks).cpu_millicores == table[cores]
    assert reserved(_shape("x", vcpu=3), aks).cpu_millicores == 120  # halfway between 100 and 140
    assert reserved(_shape("x", vcpu=12), aks).cpu_millicores == 220
    # a table given unsorted, whose last slope differs from the ones before: past the end the last one holds
    table = ((8, 300), (2, 100), (16, 400), (1, 90), (4, 140))
    bent = dataclasses.replace(aks, cpu_millicores_by_cores=table)
    assert reserved(_shape("x", vcpu=1), bent).cpu_millicores == 90
    assert reserved(_shape("x", vcpu=2), bent).cpu_millicores == 100
    assert reserved(_shape("x", vcpu=32), bent).cpu_millicores == 400 + 16 * 12.5  # (400 − 300) / (16 − 8)


def test_pod_count_defaults_when_a_shape_lists_none() -> None:
    eks, aks = provider("eks").reservation, provider("aks").reservation
    assert eks is not None and aks is not None and aks.max_pods == 250
    # EKS: 110 pods (the kubelet default); AKS: its configured max_pods, else 110
    assert reserved(_shape("x"), eks).memory_mib == 11 * 110 + 255 + 100
    assert reserved(_shape("x", memory_gib=256), aks).memory_mib == math.ceil(
        (20 * 250 + 50) * 1e6 / 2**20 + 100
    )
    # the formula is in decimal MB: 222 pods reserve 4490 MB = 4281.99 MiB, so 4282 MiB + 100 MiB eviction
    assert reserved(_shape("x", memory_gib=256, max_pods=222), aks).memory_mib == 4382
    unset = dataclasses.replace(aks, max_pods=None)
    assert reserved(_shape("x", memory_gib=256), unset).memory_mib == math.ceil(
        (20 * 110 + 50) * 1e6 / 2**20 + 100
    )


def test_an_unknown_reservation_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown reservation kind 'oci'"):
        reserved(_shape("x"), dataclasses.replace(FLAT_600M, kind="oci"))


def _spec(**placement: str) -> LLMService:
    return LLMService.model_validate(
        {"metadata": {"name": "x"}, "model": {"source": "hf://Qwen/Qwen2.5-7B-Instruct"}, "gpu": {"type": "L4"},
         "placement": {"provider": "eks", **placement}}
    )  # fmt: skip


def test_the_decision_says_why_the_shape_was_taken() -> None:
    pod = _pod(cpu=4, memory_gib=20, shm_gib=1.0)
    chosen, decision, warning = plan_instance(_spec(), "L4", pod, 1)
    assert chosen is not None and decision is not None and warning is None
    assert decision.why.startswith(
        "the cheapest shape that holds it: the pod requests 4 CPU and 21 GiB (with /dev/shm); "
    )
    assert decision.why.endswith("pod(s) per node, after the system DaemonSets")
    assert f"{chosen.pod_share_cpu:g} CPU / {chosen.pod_share_memory_gib:g} GiB per pod" in decision.why
    pinned, decision, _ = plan_instance(_spec(instance_type="g6.4xlarge"), "L4", pod, 1)
    assert pinned is not None and pinned.name == "g6.4xlarge"
    assert decision is not None and decision.why.startswith("set by placement.instance_type: ")


def test_a_replica_on_two_nodes_is_priced_for_both() -> None:
    one, _, _ = plan_instance(_spec(), "L4", _pod(), 1)
    two, _, _ = plan_instance(_spec(), "L4", _pod(), 2)
    assert one is not None and two is not None and one.usd_per_replica_hour is not None
    assert two.usd_per_replica_hour == pytest.approx(2 * one.usd_per_replica_hour)


def test_a_pinned_shape_the_catalog_lacks_is_named_in_the_warning() -> None:
    _, _, warning = plan_instance(_spec(instance_type="g9.huge"), "L4", _pod(), 1)
    assert warning is not None and "lists no instance shape named 'g9.huge' with L4 GPUs" in warning
    _, _, warning = plan_instance(_spec(), "L4", _pod(), 1)
    assert warning is None
    _, _, warning = plan_instance(_spec(), "B200", _pod(), 1)
    assert warning is not None and "lists no instance shape with B200 GPUs" in warning
    listed = ", ".join(sorted({shape.gpu for shape in provider("eks").instances}))
    assert f"(it has: {listed}); the plan names no instance" in warning and ", " in listed


def test_a_pod_too_big_for_the_pinned_shape_says_how_to_fix_it() -> None:
    chosen, decision, warning = plan_instance(_spec(instance_type="g6.xlarge"), "L4", _pod(memory_gib=64), 1)
    assert chosen is not None and not chosen.fits and decision is None
    assert warning is not None and warning.endswith(
        "the pod does not fit and stays Pending; pick a larger placement.instance_type or lower the requests"
    )
