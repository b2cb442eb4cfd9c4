"""Pod resources and probe budgets as docs/planner.md states them ("Cost, resources, probes"): host memory,
/dev/shm, CPU, disk, the model cache, the startup budget and the shared-GPU limit, with their roundings
and bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.engines import table_for
from kubellm.planning.resources import (
    download_s,
    load_s,
    pod_resources,
    probes,
    shared_gpu_max_utilization,
    shared_gpu_problem,
    startup_budget_s,
)
from kubellm.planning.result import PodResources

GIB = 2**30


def _pod(
    weights_gib: float = 16.0,
    *,
    total_gib: float | None = None,
    gpus: int = 1,
    tp: int = 1,
    cached: bool = True,
    cache_size_gib: int | None = None,
    gpu_resource: str = "nvidia.com/gpu",
) -> PodResources:
    return pod_resources(
        weights_bytes_per_pod=weights_gib * GIB,
        weights_bytes_total=(weights_gib if total_gib is None else total_gib) * GIB,
        gpus_per_pod=gpus,
        tp=tp,
        gpu_resource=gpu_resource,
        cached=cached,
        cache_size_gib=cache_size_gib,
    )


@given(st.floats(0, 2000))
def test_host_memory_holds_the_weights_with_headroom_in_4_gib_steps(weights_gib: float) -> None:
    memory = _pod(weights_gib).memory_gib
    wanted = weights_gib * 1.2 + 8  # weights pass through host memory on load
    assert memory % 4 == 0 and memory - 4 < wanted <= memory


def test_host_memory_examples() -> None:
    assert _pod(0).memory_gib == 8
    assert _pod(10).memory_gib == 20  # 12 + 8
    assert _pod(15).memory_gib == 28  # 26 rounded up


@pytest.mark.parametrize(
    ("tp", "shm"), [(1, 1.0), (2, 4.0), (3, 6.0), (4, 8.0), (8, 16.0), (16, 32.0), (64, 32.0)]
)
def test_dev_shm_is_one_gib_alone_and_grows_with_tp_for_nccl(tp: int, shm: float) -> None:
    assert _pod(tp=tp, gpus=tp).shm_gib == shm


@pytest.mark.parametrize(("gpus", "cpu"), [(1, 6), (2, 8), (8, 20), (30, 64), (64, 64)])
def test_cpu_is_four_plus_two_per_gpu_at_most_64(gpus: int, cpu: int) -> None:
    assert _pod(gpus=gpus).cpu == cpu


@given(st.floats(0, 2000))
def test_without_a_cache_the_pod_disk_holds_the_weights(weights_gib: float) -> None:
    disk = _pod(weights_gib, cached=False).ephemeral_storage_gib
    wanted = weights_gib * 1.2 + 10
    assert disk % 10 == 0 and disk - 10 < wanted <= disk
    assert _pod(weights_gib, cached=True).ephemeral_storage_gib == 10  # caches and logs only


@given(st.floats(0, 2000))
def test_the_model_cache_holds_half_as_much_again_as_all_the_weights(total_gib: float) -> None:
    cache = _pod(1, total_gib=total_gib).model_cache_gib
    wanted = total_gib * 1.5
    assert cache % 10 == 0 and cache >= 10 and cache >= wanted
    assert cache == 10 or cache - 10 < wanted


def test_a_cache_size_from_the_spec_wins() -> None:
    assert _pod(100, cache_size_gib=42).model_cache_gib == 42


def test_the_gpu_resource_and_count_pass_through() -> None:
    pod = _pod(gpus=3, gpu_resource="nvidia.com/mig-3g.40gb")
    assert (pod.gpu_resource, pod.gpu_count) == ("nvidia.com/mig-3g.40gb", 3)


# --- probe budgets ---------------------------------------------------------------------------------


def test_load_is_ten_seconds_a_gib_plus_a_minute_of_init() -> None:
    assert load_s(0) == 60
    assert load_s(16 * GIB) == 220
    assert load_s(16.05 * GIB) == 220  # whole seconds, rounded down


def test_download_runs_at_150_mb_per_second() -> None:
    assert download_s(0) == 0
    assert download_s(150e6 * 100) == 100
    assert download_s(150e6 * 100 - 1) == 99


def test_the_startup_budget_is_at_least_ten_minutes() -> None:
    assert startup_budget_s(0, downloads_at_start=False) == 600
    assert startup_budget_s(0, downloads_at_start=True) == 600


def test_the_startup_budget_is_half_again_the_load_rounded_up_to_a_minute() -> None:
    weights = 300 * GIB  # load 3000 s + 60 s init
    assert startup_budget_s(weights, downloads_at_start=False) == 4620  # 3060 × 1.5 = 4590 → 77 min
    with_download = int(weights / 150e6) + 3060
    expected = math.ceil(with_download * 1.5 / 60) * 60
    assert startup_budget_s(weights, downloads_at_start=True) == expected


@given(st.floats(0, 2000 * GIB), st.booleans())
def test_the_startup_budget_covers_download_and_load_with_margin(weights: float, downloads: bool) -> None:
    budget = startup_budget_s(weights, downloads_at_start=downloads)
    work = (download_s(weights) if downloads else 0) + load_s(weights)
    assert budget % 60 == 0 and budget >= 600
    assert budget >= 1.5 * work and (budget == 600 or budget - 60 < 1.5 * work)


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tgi", "trtllm", "llamacpp"])
@pytest.mark.parametrize("downloads", [False, True])
def test_probes_carry_the_budget_and_the_engines_paths(engine: str, downloads: bool) -> None:
    weights = 140 * GIB
    p = probes(engine=engine, weights_bytes_per_pod=weights, downloads_at_start=downloads)
    readiness = table_for(engine).readiness
    assert (p.readiness_path, p.liveness_path) == (readiness.ready_path, readiness.live_path)
    assert p.startup_budget_s == startup_budget_s(weights, downloads_at_start=downloads)
    assert p.load_s == load_s(weights)
    assert p.download_s == (download_s(weights) if downloads else 0)


# --- a GPU shared without memory isolation ----------------------------------------------------------


@pytest.mark.parametrize(("pods", "limit"), [(1, 1.0), (2, 0.5), (3, 0.33), (4, 0.25), (7, 0.14), (0, 1.0)])
def test_each_pod_on_a_shared_gpu_may_claim_its_share(pods: int, limit: float) -> None:
    assert shared_gpu_max_utilization(pods) == limit


def test_the_default_share_assumes_two_pods() -> None:
    assert shared_gpu_max_utilization() == 0.5


@pytest.mark.parametrize("sharing", ["time-slicing", "mps"])
def test_a_utilisation_above_the_share_is_a_problem_at_the_share_it_is_not(sharing: str) -> None:
    problem = shared_gpu_problem(sharing, 0.9)
    assert problem is not None
    assert f"gpu.memory_utilization 0.9 with sharing {sharing}" in problem
    assert "at most 1 / (pods per GPU), 0.5 for 2" in problem
    assert shared_gpu_problem(sharing, 0.5) is None
    assert shared_gpu_problem(sharing, 0.34, pods_per_gpu=3) is not None
    assert shared_gpu_problem(sharing, 0.33, pods_per_gpu=3) is None


@pytest.mark.parametrize("sharing", ["none", "mig", ""])
def test_isolated_or_unshared_gpus_have_no_such_problem(sharing: str) -> None:
    assert shared_gpu_problem(sharing, 0.95) is None
