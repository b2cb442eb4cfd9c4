"""The memory accounting follows the vLLM release asked for (vllm_versions.py), checked on logged figures."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.catalog import default_catalog
from kubellm.errors import UsageError
from kubellm.planning import plan
from kubellm.planning.kv_layout import blocks_per_request, kv_layout, max_concurrency, reported_tokens
from kubellm.planning.memory import engine_defaults
from kubellm.planning.vllm_versions import (
    PINNED_VLLM_VERSION,
    accounting_for,
    parse_version,
    version_from_image,
)
from kubellm.spec import LLMService


def service(model: str, gpu_type: str, **sections: dict[str, Any]) -> LLMService:
    data: dict[str, Any] = {
        "metadata": {"name": "t"},
        "model": {"source": "hf://x/y", "name": model},
        "gpu": {"type": gpu_type},
    }
    for key, values in sections.items():
        data.setdefault(key, {}).update(values)
    return LLMService.model_validate(data)


@pytest.mark.parametrize(
    ("text", "version"),
    [("0.11.0", (0, 11, 0)), ("v0.14.1", (0, 14, 1)), ("0.29.1rc1.dev17+gd2d649e67", (0, 29, 1)), ("0.9", (0, 9, 0)),
     ("vllm/vllm-openai:v0.10.1.1", (0, 10, 1))],
)  # fmt: skip
def test_versions_parse(text: str, version: tuple[int, int, int]) -> None:
    assert parse_version(text) == version


def test_a_malformed_version_says_how_to_fix_it() -> None:
    with pytest.raises(UsageError) as err:
        parse_version("latest")
    assert "0.11.0" in err.value.fix


def test_image_tags_name_versions_digests_do_not() -> None:
    assert version_from_image("vllm/vllm-openai:v0.14.1") == "0.14.1"
    assert version_from_image("vllm/vllm-openai@sha256:" + "a" * 64) is None
    assert version_from_image("lmsysorg/sglang:v0.5.3") is None


@pytest.mark.parametrize(
    ("version", "graphs", "report", "hybrid", "util"),
    [("0.9.0", False, "blocks", False, 0.9), ("0.9.2", False, "groups", True, 0.9), ("0.19.0", False, "groups", True, 0.9),
     ("0.20.0", True, "groups", True, 0.92), ("0.21.0", True, "concurrency", True, 0.92)],
)  # fmt: skip
def test_release_boundaries(version: str, graphs: bool, report: str, hybrid: bool, util: float) -> None:
    acct = accounting_for(version)
    assert (acct.graphs_in_budget, acct.token_report, acct.hybrid_allocator) == (graphs, report, hybrid)
    assert acct.default_memory_utilization == util


def test_from_0_20_the_cuda_graph_estimate_comes_out_of_the_kv_budget() -> None:
    spec = service("Llama-3.1-8B", "h100", gpu={"count": 1}, serving={"max_model_len": 8192})
    before, after = plan(spec, vllm_version="0.19.0"), plan(spec, vllm_version="0.20.0")
    assert before.memory.kv_cache_gib - after.memory.kv_cache_gib == pytest.approx(
        after.memory.cuda_graph_gib, abs=0.02
    )
    assert after.vllm_version == "0.20.0" and before.vllm_version == "0.19.0"
    assert any("taken from the budget" in d.why for d in after.decisions)


def test_the_default_is_the_pinned_release_unless_the_spec_pins_an_image() -> None:
    assert plan(service("Llama-3.1-8B", "h100", gpu={"count": 1})).vllm_version == PINNED_VLLM_VERSION
    pinned = service("Llama-3.1-8B", "h100", gpu={"count": 1}, engine={"image": "vllm/vllm-openai:v0.21.0"})
    assert plan(pinned).vllm_version == "0.21.0"
    assert "newest release read" in plan(pinned, vllm_version="0.29.1").vllm_version


def test_vllm_0_19_h100_log_reproduced() -> None:
    # llm-d-planner v0.19.0 sweep (tune half): Qwen2.5-7B at 0.95 → 58.53 GiB, 1,096,000 tokens
    spec = service("Qwen2.5-7B-Instruct", "h100", gpu={"count": 1, "memory_utilization": 0.95},
                   serving={"max_model_len": 8192})  # fmt: skip
    p = plan(spec, vllm_version="0.19.0")
    assert p.memory.kv_cache_gib == pytest.approx(58.53, abs=0.15)
    assert p.kv_cache.tokens == pytest.approx(1_096_000, rel=0.005)


def test_tensor_parallel_nccl_memory_grows_with_symmetric_memory_all_reduce() -> None:
    spec = service("Qwen2.5-7B-Instruct", "h100", gpu={"count": 2}, serving={"max_model_len": 8192})
    assert plan(spec, vllm_version="0.19.0").memory.non_torch_gib == pytest.approx(
        2.06, abs=0.1
    )  # logged 2.06
    assert plan(spec, vllm_version="0.10.1").memory.non_torch_gib < 1.0


def test_batch_defaults_depend_on_the_gpu_name_not_only_its_memory() -> None:
    assert engine_defaults(79.25, "A100-80GB").max_num_seqs == 256
    assert engine_defaults(79.19, "H100-SXM-80GB") == engine_defaults(139.8, "H200-141GB")
    assert engine_defaults(79.19, "H100-SXM-80GB").max_num_batched_tokens == 8192
    assert engine_defaults(69.9, "custom").max_num_batched_tokens == 2048


def test_unified_memory_gb10_counts_host_allocations_from_0_11_2_and_warns_above_0_84() -> None:
    spec = service(
        "gpt-oss-20b", "gb10", gpu={"count": 1, "memory_utilization": 0.9}, serving={"max_model_len": 32768}
    )
    new, old = plan(spec, vllm_version="0.11.2"), plan(spec, vllm_version="0.11.0")
    assert new.memory.non_torch_gib - old.memory.non_torch_gib == pytest.approx(2.3, abs=0.01)
    assert any("shares its" in w for w in new.warnings)
    low = service(
        "gpt-oss-20b", "gb10", gpu={"count": 1, "memory_utilization": 0.8}, serving={"max_model_len": 32768}
    )
    assert not any("shares its" in w for w in plan(low).warnings)


@given(
    blocks=st.integers(min_value=0, max_value=400_000),
    max_len=st.integers(min_value=16, max_value=262_144),
    mnbt=st.integers(min_value=16, max_value=65_536),
)
def test_concurrency_is_at_least_one_exactly_when_a_request_fits(
    blocks: int, max_len: int, mnbt: int
) -> None:
    for name in ("Gemma-3-27B", "Qwen3-Next-80B-A3B", "Llama-3.1-8B"):
        lay = kv_layout(default_catalog().model(name), 1, 1, 2.0, accounting_for("0.21.0"))
        fits = blocks >= blocks_per_request(lay, max_len, mnbt)
        assert (max_concurrency(lay, blocks, max_len, mnbt) >= 1.0) == fits
        assert reported_tokens(lay, blocks, max_len, mnbt, accounting_for("0.21.0")) >= 0
