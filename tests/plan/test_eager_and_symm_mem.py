"""Two rules read in vLLM's source: --enforce-eager takes no CUDA-graph memory, and symmetric-memory all-reduce
runs only on the compute capabilities and TP sizes vLLM lists (docs/planner.md cites the lines)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.catalog import default_catalog
from kubellm.planning import memory as mem
from kubellm.planning import plan
from kubellm.planning.vllm_versions import accounting_for
from kubellm.spec import LLMService

GIB = mem.GIB
VERSIONS = ("0.10.2", "0.11.0", "0.17.1", "0.18.0", "0.18.1", "0.19.0", "0.20.0", "0.21.0", "0.30.0")
CAPABILITIES = ("7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "10.3", "12.0", "12.1")


def _spec(gpu: str = "h100", count: int = 1, eager: bool = False, **serving: Any) -> LLMService:
    return LLMService.model_validate({
        "metadata": {"name": "s"}, "model": {"source": "hf://Qwen/Qwen3-8B"},
        "gpu": {"type": gpu, "count": count},
        "serving": {"max_model_len": 8192, "enforce_eager": eager, **serving},
    })  # fmt: skip


# ---- --enforce-eager -------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    version=st.sampled_from(VERSIONS),
    gpu=st.sampled_from(("h100", "l4", "a100-80gb", "b200", "l40s")),
    seqs=st.sampled_from((None, 1, 64, 256, 1024)),
)
def test_an_eager_engine_reserves_no_graph_memory_and_keeps_at_least_the_same_cache(
    version: str, gpu: str, seqs: int | None
) -> None:
    graphs = plan(_spec(gpu, max_num_seqs=seqs), vllm_version=version)
    eager = plan(_spec(gpu, eager=True, max_num_seqs=seqs), vllm_version=version)
    assert eager.memory.cuda_graph_gib == 0
    assert eager.memory.kv_cache_gib >= graphs.memory.kv_cache_gib
    acct = accounting_for(version)
    # What eager gives back is exactly the graph estimate (when the release subtracts it) plus the share of non-torch
    # memory the graph profiling took (when the release profiles graphs inside the window): nothing else moves.
    returned = (graphs.memory.cuda_graph_gib if acct.graphs_in_budget else 0.0) + (
        mem.NON_TORCH_GRAPH_PROFILE / GIB if acct.graphs_profiled else 0.0
    )
    assert eager.memory.kv_cache_gib - graphs.memory.kv_cache_gib == pytest.approx(returned, abs=0.011)
    assert eager.memory.activation_gib == graphs.memory.activation_gib
    assert eager.memory.weights_gib == graphs.memory.weights_gib


@pytest.mark.parametrize(
    ("version", "moves"),
    [("0.17.1", False), ("0.18.0", True), ("0.19.0", True), ("0.20.0", True), ("0.21.0", True)],
)
def test_eager_changes_the_cache_from_the_release_that_profiles_graphs_inside_the_window(
    version: str, moves: bool
) -> None:
    graphs = plan(_spec(), vllm_version=version).kv_cache.tokens
    eager = plan(_spec(eager=True), vllm_version=version).kv_cache.tokens
    assert (eager > graphs) is moves


def test_the_eager_plan_writes_the_flag_and_no_other_plan_does() -> None:
    assert "--enforce-eager" in plan(_spec(eager=True)).engine_args
    assert not any("eager" in a for a in plan(_spec()).engine_args)


def test_the_eager_plan_says_why_no_graphs_and_warns_where_the_engine_has_no_flag() -> None:
    p = plan(_spec(eager=True))
    assert any("enforce_eager: no CUDA graphs" in d.why for d in p.decisions)
    assert not any("enforce_eager" in w for w in p.warnings)
    tgi = LLMService.model_validate({**_spec(eager=True).model_dump(mode="json"), "engine": {"name": "tgi"}})
    assert any("serving.enforce_eager has no tgi flag" in w for w in plan(tgi).warnings)


def test_an_eager_engine_gets_no_warning_about_graph_headroom() -> None:
    tight = {"gpu": {"type": "l4", "count": 1, "memory_utilization": 0.98}}
    graphs = plan(LLMService.model_validate({**_spec("l4").model_dump(mode="json"), **tight}))
    eager = plan(LLMService.model_validate({**_spec("l4", eager=True).model_dump(mode="json"), **tight}))
    assert any("CUDA graphs need" in w for w in graphs.warnings)
    assert not any("CUDA graphs need" in w for w in eager.warnings)


# ---- symmetric-memory all-reduce -------------------------------------------------------------------------------


def _symm_expected(version: str, capability: str, tp: int) -> bool:
    listed = {"9.0", "10.0"} | ({"10.3"} if accounting_for(version).version >= (0, 19, 0) else set())
    return accounting_for(version).version >= (0, 11, 0) and capability in listed and tp in (2, 4, 6, 8)


@settings(max_examples=80, deadline=None)
@given(
    version=st.sampled_from(VERSIONS),
    capability=st.sampled_from(CAPABILITIES),
    tp=st.integers(min_value=2, max_value=8),
)
def test_symmetric_memory_all_reduce_memory_only_where_vllm_enables_the_communicator(
    version: str, capability: str, tp: int
) -> None:
    gpu = dataclasses.replace(default_catalog().gpu("h100"), compute_capability=capability)
    acct = accounting_for(version)
    assert mem.symm_mem_allreduce(tp, gpu, acct) is _symm_expected(version, capability, tp)
    non_torch = mem.non_torch_bytes(tp, 1, gpu, acct)
    assert (non_torch >= mem.NON_TORCH_TP_NVLINK_SYMM) is _symm_expected(version, capability, tp)


@pytest.mark.parametrize(
    ("gpu", "capability", "version", "tp", "symm"),
    [
        ("a100-40gb", None, "0.19.0", 2, False),  # "Device capability 8.0 not supported"
        ("a100-80gb", None, "0.21.0", 4, False),
        ("h100", None, "0.10.2", 2, False),  # before the default turned on
        ("h100", None, "0.11.0", 2, True),
        ("h100", None, "0.19.0", 3, False),  # "World size 3 not supported"
        ("b200", None, "0.11.0", 8, True),
        ("b200", "10.3", "0.18.1", 2, False),  # B300 / GB300: listed from 0.19.0
        ("b200", "10.3", "0.19.0", 2, True),
    ],
)
def test_symmetric_memory_boundaries(
    gpu: str, capability: str | None, version: str, tp: int, symm: bool
) -> None:
    spec_gpu = default_catalog().gpu(gpu)
    if capability:
        spec_gpu = dataclasses.replace(spec_gpu, compute_capability=capability)
    assert mem.symm_mem_allreduce(tp, spec_gpu, accounting_for(version)) is symm


def test_an_a100_pair_plans_the_custom_all_reduce_non_torch_memory_on_0_19() -> None:
    spec = LLMService.model_validate({
        "metadata": {"name": "s"}, "model": {"source": "hf://meta-llama/Llama-3.1-70B-Instruct", "quantization": "awq"},
        "gpu": {"type": "a100-40gb", "count": 2}, "serving": {"max_model_len": 8192},
        "security": {"hf_token_secret": "hf-token"},
    })  # fmt: skip
    a100 = plan(spec, vllm_version="0.19.0").memory
    first, step = mem.NON_TORCH_TP_NVLINK_OLD
    assert a100.non_torch_gib == pytest.approx((first + step) / GIB, abs=0.005)
    h100 = plan(
        spec.model_copy(update={"gpu": spec.gpu.model_copy(update={"type": "h100"})}), vllm_version="0.19.0"
    )
    assert h100.memory.non_torch_gib == pytest.approx(mem.NON_TORCH_TP_NVLINK_SYMM / GIB, abs=0.005)
