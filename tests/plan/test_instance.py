"""Allocatable resources follow each provider's documented reservation formula; the plan names the cheapest
instance whose allocatable holds the pod, and prices the replica on it."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.catalog.providers import Instance, provider
from kubellm.planning import plan
from kubellm.planning.instance import (
    DAEMONSET_CPU_MILLICORES,
    DAEMONSET_MEMORY_MIB,
    allocatable,
    pod_demand,
    reserved,
)
from kubellm.spec import LLMService


def _shape(name: str = "x", vcpu: int = 8, memory_gib: float = 32, max_pods: int | None = None) -> Instance:
    return Instance(name=name, gpu="L4", gpus=1, vcpu=vcpu, memory_gib=memory_gib, usd_per_hour=1.0,
                    source="https://example.com", price_source="https://example.com", max_pods=max_pods)  # fmt: skip


def test_gke_memory_tiers_match_googles_worked_example() -> None:
    # plan-node-sizes: 150 GiB → 25 % of 4 + 20 % of 4 + 10 % of 8 + 6 % of 112 + 2 % of 22 GiB, + 100 MiB
    held = reserved(_shape(memory_gib=150), provider("gke").reservation)  # type: ignore[arg-type]
    assert held.memory_mib == math.ceil(9.76 * 1024 + 100)
    # CPU: 6 % of the first core, 1 % of the second, 0.5 % of the next two, 0.25 % above four
    assert held.cpu_millicores == math.ceil(60 + 10 + 10 + 4 * 2.5)


def test_eks_reserves_11_mib_per_pod_plus_255_and_the_same_cpu_tiers() -> None:
    shape = provider("eks").instance("g6.2xlarge")
    assert shape is not None and shape.max_pods == 58
    held = reserved(shape, provider("eks").reservation)  # type: ignore[arg-type]
    assert held.memory_mib == 11 * 58 + 255 + 100
    assert held.cpu_millicores == 90


def test_aks_follows_its_table_and_the_20_mb_per_pod_rule() -> None:
    res = provider("aks").reservation
    assert res is not None
    # learn.microsoft.com's example: 8 GB and 30 pods → 20 MB × 30 + 50 MB = 650 MB kube-reserved, + 100 Mi
    held = reserved(_shape(vcpu=8, memory_gib=8, max_pods=30), res)
    assert held.memory_mib == math.ceil(650e6 / 2**20 + 100)
    assert held.cpu_millicores == 180
    assert reserved(_shape(vcpu=4, memory_gib=8, max_pods=30), res).cpu_millicores == 140
    # the 25 % cap: 4 GB and 70 pods would reserve 1.45 GB, above a quarter of the memory
    capped = reserved(_shape(vcpu=4, memory_gib=4, max_pods=70), res)
    assert capped.memory_mib == math.ceil(0.25 * 4 * 1024 + 100)
    assert reserved(_shape(vcpu=96, memory_gib=880), res).cpu_millicores == 740 + 32 * 10


@given(
    name=st.sampled_from(["gke", "eks", "aks"]),
    vcpu=st.integers(4, 256),
    memory_gib=st.floats(16, 4096),
    pods=st.integers(8, 737),
)
def test_allocatable_is_below_capacity_and_grows_with_the_machine(
    name: str, vcpu: int, memory_gib: float, pods: int
) -> None:
    res = provider(name).reservation
    small = allocatable(_shape(vcpu=vcpu, memory_gib=memory_gib, max_pods=pods), res)
    big = allocatable(_shape(vcpu=vcpu * 2, memory_gib=memory_gib * 2, max_pods=pods), res)
    assert 0 < small.cpu_millicores < vcpu * 1000 and 0 < small.memory_mib < memory_gib * 1024
    assert big.cpu_millicores > small.cpu_millicores and big.memory_mib > small.memory_mib


def _spec(provider_name: str, model: str = "meta-llama/Llama-3.1-8B-Instruct", gpu: str = "L4", count: int = 1,
          **placement: str) -> LLMService:  # fmt: skip
    return LLMService.model_validate(
        {"metadata": {"name": "x"}, "model": {"source": f"hf://{model}"}, "gpu": {"type": gpu, "count": count},
         "placement": {"provider": provider_name, **placement}}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("provider_name", "gpu", "count", "expected"),
    [
        ("eks", "L4", 1, "g6.2xlarge"),  # g6.xlarge's 16 GiB cannot hold the 29 GiB pod
        ("gke", "L4", 1, "g2-standard-12"),  # g2-standard-8 leaves 28.3 GiB after GKE's tiers
        ("aks", "A100-80GB", 1, "Standard_NC24ads_A100_v4"),
        ("eks", "H100", 2, "p5.48xlarge"),
    ],
)
def test_the_plan_names_the_cheapest_shape_whose_allocatable_holds_the_pod(
    provider_name: str, gpu: str, count: int, expected: str
) -> None:
    model = "meta-llama/Llama-3.1-8B-Instruct" if count == 1 else "meta-llama/Llama-3.3-70B-Instruct"
    p = plan(_spec(provider_name, model, gpu, count))
    assert p.instance is not None and p.instance.name == expected and p.instance.fits
    cpu, memory = pod_demand(p.resources)
    assert cpu <= p.instance.pod_share_cpu * 1000 and memory <= p.instance.pod_share_memory_gib * 1024
    assert any(d.what == f"instance={expected}" for d in p.decisions)
    # every cheaper shape with this GPU would not hold the pod
    where = provider(provider_name)
    assert p.instance.usd_per_replica_hour is not None
    for shape in where.instances_for(p.gpu_spec.name):
        if shape.gpus < count or shape.usd_per_hour is None:
            continue
        per_pod = shape.gpus // count
        if shape.usd_per_hour * count / shape.gpus < p.instance.usd_per_replica_hour - 1e-9:
            node = allocatable(shape, where.reservation)
            fits_cpu = cpu <= (node.cpu_millicores - DAEMONSET_CPU_MILLICORES) // per_pod
            fits_memory = memory <= (node.memory_mib - DAEMONSET_MEMORY_MIB) // per_pod
            assert not (fits_cpu and fits_memory), f"{shape.name} is cheaper and holds the pod"


def test_the_cost_is_the_replicas_share_of_the_instance_price() -> None:
    p = plan(_spec("eks", "meta-llama/Llama-3.3-70B-Instruct", "H100", 2))
    shape = provider("eks").instance("p5.48xlarge")
    assert shape is not None and shape.usd_per_hour is not None
    assert p.instance is not None and p.instance.pods_per_node == 4
    assert p.cost.usd_per_hour == pytest.approx(shape.usd_per_hour * 2 / 8, abs=1e-3)
    assert "p5.48xlarge" in p.cost.price_basis


def test_a_pinned_shape_too_small_for_the_pod_is_a_warning_not_a_silent_pending() -> None:
    p = plan(_spec("eks", instance_type="g6.xlarge"))
    assert p.instance is not None and p.instance.name == "g6.xlarge" and not p.instance.fits
    assert any("g6.xlarge" in w and "Pending" in w for w in p.warnings)


def test_generic_clusters_and_gpus_a_provider_lacks_name_no_instance() -> None:
    assert plan(_spec("generic")).instance is None
    lacking = plan(_spec("aks"))  # AKS offers no L4 VM size
    assert lacking.instance is None and any("no instance shape" in w for w in lacking.warnings)


def test_daemonset_headroom_is_taken_from_the_pods_share() -> None:
    p = plan(_spec("eks"))
    assert p.instance is not None
    node_cpu = p.instance.allocatable_cpu * 1000
    assert p.instance.pod_share_cpu * 1000 == pytest.approx(node_cpu - DAEMONSET_CPU_MILLICORES, abs=1)
    node_memory = p.instance.allocatable_memory_gib * 1024
    assert p.instance.pod_share_memory_gib * 1024 == pytest.approx(node_memory - DAEMONSET_MEMORY_MIB, abs=8)
    assert dataclasses.is_dataclass(provider("eks").instances[0])
