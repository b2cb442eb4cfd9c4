"""The fit rules of planning/layout.py (docs/planner.md): which TP sizes vLLM accepts, what one GPU holds,
how a MIG slice is priced, and which context the planner picks when none is given."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.catalog import ModelArch, default_catalog
from kubellm.errors import PlanError
from kubellm.planning import memory as mem
from kubellm.planning.kv_layout import kv_layout, max_concurrency
from kubellm.planning.layout import (
    AUTO_CONTEXTS,
    GIB,
    MIN_AUTO_CONTEXT,
    Layout,
    MemoryFit,
    auto_context,
    gib,
    kv_dtype_bytes,
    memory_fit,
    sliced_gpu,
    valid_tps,
    weights_total,
)
from kubellm.planning.vllm_versions import accounting_for
from kubellm.spec import LLMService

CATALOG = default_catalog()
LLAMA_8B = CATALOG.model("Llama-3.1-8B")
GEMMA_2_9B = CATALOG.model("Gemma-2-9B")
DEEPSEEK = CATALOG.model("DeepSeek-V3")
H100 = CATALOG.gpu("H100-SXM-80GB")
A10G = next(g for g in CATALOG.gpus if not g.mig_profiles)
ACCT = accounting_for()
V0 = accounting_for("0.5.5")


def _spec(gpu: dict[str, object] | None = None, model: dict[str, object] | None = None) -> LLMService:
    return LLMService.model_validate(
        {"metadata": {"name": "p"}, "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct", **(model or {})},
         "gpu": {"type": "H100", **(gpu or {})}, "security": {"hf_token_secret": "hf-token"}}
    )  # fmt: skip


# ---- valid TP sizes -------------------------------------------------------------------------------------
def _accepted(model: ModelArch, tp: int) -> bool:
    """vLLM's rule: TP divides the attention heads, and the KV heads split evenly or replicate evenly
    (MLA has one latent KV shared by every head, so only the heads count)."""
    if model.num_attention_heads % tp:
        return False
    if model.is_mla:
        return True
    return model.num_kv_heads % tp == 0 or tp % model.num_kv_heads == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 128), st.integers(1, 16), st.integers(1, 16), st.booleans())
def test_valid_tp_sizes_are_every_size_up_to_the_limit_that_splits_heads_and_kv_heads(
    heads: int, kv_heads: int, limit: int, mla: bool
) -> None:
    model = dataclasses.replace(LLAMA_8B, num_attention_heads=heads, num_kv_heads=kv_heads)
    if mla:
        model = dataclasses.replace(DEEPSEEK, num_attention_heads=heads, num_kv_heads=kv_heads)
    assert model.is_mla == mla
    assert valid_tps(model, limit) == [tp for tp in range(1, limit + 1) if _accepted(model, tp)]


def test_tp_sizes_examples() -> None:
    gqa = dataclasses.replace(LLAMA_8B, num_attention_heads=12, num_kv_heads=3)
    # 2 and 4 would split three KV heads unevenly; 5 does not divide the heads; 6 replicates them twice
    assert valid_tps(gqa, 12) == [1, 3, 6, 12]
    eight = dataclasses.replace(LLAMA_8B, num_attention_heads=8, num_kv_heads=2)
    assert valid_tps(eight, 8) == [1, 2, 4, 8]  # 4 and 8 replicate the 2 KV heads
    assert valid_tps(eight, 3) == [1, 2]  # never above the limit
    mla = dataclasses.replace(DEEPSEEK, num_attention_heads=12, num_kv_heads=5)
    assert valid_tps(mla, 12) == [1, 2, 3, 4, 6, 12]  # MLA: the KV head count does not matter


# ---- bytes --------------------------------------------------------------------------------------------
def test_cache_entries_are_one_byte_in_fp8_four_in_float32_and_two_otherwise() -> None:
    assert kv_dtype_bytes("fp8", "bfloat16") == 1.0
    assert kv_dtype_bytes("fp8_e4m3", "float32") == 1.0
    assert kv_dtype_bytes("auto", "float32") == 4.0
    assert kv_dtype_bytes("auto", "bfloat16") == 2.0
    assert kv_dtype_bytes("auto", "float16") == 2.0


def test_a_given_weights_size_overrides_the_catalog() -> None:
    assert weights_total(LLAMA_8B, _spec(model={"weights_gib": 10}), "bfloat16", None) == 10 * GIB


def test_weights_follow_the_dtype_asked_for_when_the_checkpoint_size_is_unknown() -> None:
    counted = dataclasses.replace(LLAMA_8B, weights_bytes=0)
    bf16 = weights_total(counted, _spec(), "bfloat16", None)
    assert weights_total(counted, _spec(), "float32", None) == pytest.approx(2 * bf16, rel=1e-6)


def test_gib_prints_bytes_as_gibibytes() -> None:
    assert gib(1.5 * GIB) == "1.50 GiB"
    assert gib(0) == "0.00 GiB"


# ---- one GPU's memory -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("tp", "pp"), [(1, 1), (2, 1), (2, 2), (1, 4)])
def test_each_gpu_holds_its_share_of_the_weights(tp: int, pp: int) -> None:
    fit = memory_fit(LLAMA_8B, H100, _spec(), Layout(tp, pp, "bfloat16", None, "auto", 4096), 64, 2048, ACCT)
    assert fit.weights == pytest.approx(weights_total(LLAMA_8B, _spec(), "bfloat16", None) / (tp * pp))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
def test_activations_are_four_bytes_in_float32_and_two_otherwise(dtype: str) -> None:
    counted = dataclasses.replace(LLAMA_8B, weights_bytes=0)
    fit = memory_fit(counted, H100, _spec(), Layout(1, 1, dtype, None, "auto", 4096), 64, 2048, ACCT)
    act_bytes = 4.0 if dtype == "float32" else 2.0
    assert fit.activation == mem.activation_peak_bytes(counted, 1, 64, 2048, 4096, ACCT, act_bytes)
    # the cache of a float32 model is float32 too
    assert fit.bytes_per_token == kv_layout(counted, 1, 1, act_bytes, ACCT).bytes_per_token


def test_the_kv_budget_is_what_the_utilisation_leaves_after_weights_activation_and_non_torch() -> None:
    for acct in (ACCT, accounting_for("0.10.0")):
        fit = memory_fit(
            LLAMA_8B, H100, _spec(), Layout(1, 1, "bfloat16", None, "auto", 4096), 64, 2048, acct
        )
        graphs = fit.graphs if fit.graphs_in_budget else 0.0
        budget = 0.9 * H100.memory_gib * GIB
        assert fit.kv == pytest.approx(
            budget - fit.weights - fit.activation - fit.non_torch - graphs, abs=0.5
        )
        assert fit.graphs == mem.cuda_graph_bytes(LLAMA_8B, 64, 2048)


def test_the_fit_reports_the_cuda_graphs_of_the_planned_batch() -> None:
    small = memory_fit(LLAMA_8B, H100, _spec(), Layout(1, 1, "bfloat16", None, "auto", 4096), 8, 2048, ACCT)
    large = memory_fit(LLAMA_8B, H100, _spec(), Layout(1, 1, "bfloat16", None, "auto", 4096), 512, 8192, ACCT)
    assert small.graphs < large.graphs
    assert large.graphs == mem.cuda_graph_bytes(LLAMA_8B, 512, 8192)


def test_v0_profiles_the_whole_context_up_to_32k_then_chunks() -> None:
    """vLLM v0 profiles a full max_model_len prompt unless it chunks (contexts above 32K)."""
    layout = Layout(1, 1, "bfloat16", None, "auto", 16384)
    short = memory_fit(LLAMA_8B, H100, _spec(), layout, 64, 2048, V0)
    assert short.activation == mem.activation_peak_bytes(LLAMA_8B, 1, 64, 2048, 16384, V0)
    native = memory_fit(
        LLAMA_8B, H100, _spec(), dataclasses.replace(layout, max_model_len=None), 64, 2048, V0
    )
    assert native.activation == mem.activation_peak_bytes(
        LLAMA_8B, 1, 64, 2048, LLAMA_8B.max_position_embeddings, V0
    )
    assert native.activation < short.activation  # the native 128K context chunks: only the batch is profiled


# ---- MIG slices -------------------------------------------------------------------------------------------
def test_a_mig_slice_is_a_gpu_of_its_memory_with_compute_and_price_in_proportion() -> None:
    spec = _spec(gpu={"sharing": "mig", "mig_profile": "3g.40gb"})
    profile = H100.mig_profile("3g.40gb")
    assert profile is not None
    sliced = sliced_gpu(H100, spec)
    share = profile.compute_slices / 7  # a full GPU is seven compute slices
    assert sliced.name == f"{H100.name} MIG 3g.40gb"
    assert sliced.memory_gib == profile.memory_gib
    assert sliced.bandwidth_tbs == pytest.approx(H100.bandwidth_tbs * profile.memory_gib / H100.memory_gib)
    assert sliced.fp16_tflops == pytest.approx(H100.fp16_tflops * share)
    assert sliced.bf16_tflops == pytest.approx((H100.bf16_tflops or 0) * share)
    assert sliced.fp8_tflops == pytest.approx((H100.fp8_tflops or 0) * share)
    assert sliced.usd_per_hour == pytest.approx((H100.usd_per_hour or 0) * share)
    assert sliced.nvlink_gbs is None  # a slice has no NVLink
    assert H100.nvlink_gbs


def test_a_gpu_without_prices_or_fp8_gives_slices_without_them() -> None:
    bare = dataclasses.replace(H100, fp8_tflops=None, usd_per_hour=None, bf16_tflops=None)
    sliced = sliced_gpu(bare, _spec(gpu={"sharing": "mig", "mig_profile": "1g.10gb"}))
    assert sliced.fp8_tflops is None and sliced.usd_per_hour is None and sliced.bf16_tflops is None


def test_without_mig_the_gpu_is_whole() -> None:
    assert sliced_gpu(H100, _spec()) is H100


def test_an_unknown_mig_profile_names_the_profiles_that_exist() -> None:
    with pytest.raises(PlanError) as err:
        sliced_gpu(H100, _spec(gpu={"sharing": "mig", "mig_profile": "5g.99gb"}))
    text = str(err.value) + " " + str(getattr(err.value, "hint", ""))
    assert "'5g.99gb' does not exist on H100-SXM-80GB" in text
    assert ", ".join(p.name for p in H100.mig_profiles) in text
    with pytest.raises(PlanError) as err:
        sliced_gpu(A10G, _spec(gpu={"sharing": "mig", "mig_profile": "1g.10gb"}))
    assert "none (this GPU has no MIG)" in str(err.value) + " " + str(getattr(err.value, "hint", ""))


# ---- automatic context ----------------------------------------------------------------------------------
def _fit(model: ModelArch, blocks: int) -> MemoryFit:
    cache = kv_layout(model, 1, 1, 2.0, ACCT)
    return MemoryFit(0.0, 0.0, 0.0, 0.0, False, 0.0, cache, blocks)


def _blocks_for(model: ModelArch, ctx: int, requests: int, mnbt: int = 2048) -> int:
    cache = kv_layout(model, 1, 1, 2.0, ACCT)
    one = max_concurrency(cache, 1_000_000, ctx, mnbt)
    return round(1_000_000 / one * requests)


def test_auto_context_is_the_longest_power_of_two_that_keeps_room_for_four_requests() -> None:
    fit = _fit(LLAMA_8B, _blocks_for(LLAMA_8B, 16384, 4))  # exactly four 16K requests
    assert auto_context(LLAMA_8B, fit, 2048, 64) == 16384
    fewer = _fit(LLAMA_8B, _blocks_for(LLAMA_8B, 16384, 4) - 1)
    assert auto_context(LLAMA_8B, fewer, 2048, 64) == 8192


def test_auto_context_keeps_room_for_the_target_concurrency_when_it_is_below_four() -> None:
    fit = _fit(LLAMA_8B, _blocks_for(LLAMA_8B, 65536, 1))
    assert auto_context(LLAMA_8B, fit, 2048, 1) == 65536
    assert auto_context(LLAMA_8B, fit, 2048, 4) == 16384


def test_auto_context_can_pick_a_native_context_that_is_not_a_power_of_two() -> None:
    odd = dataclasses.replace(LLAMA_8B, max_position_embeddings=40960)
    assert 40960 not in AUTO_CONTEXTS
    assert auto_context(odd, _fit(odd, 10**7), 2048, 4) == 40960
    # and never goes past the native context
    short = dataclasses.replace(LLAMA_8B, max_position_embeddings=4096)
    assert auto_context(short, _fit(short, 10**7), 2048, 4) == 4096


def test_auto_context_is_zero_when_not_even_the_shortest_fits() -> None:
    assert auto_context(LLAMA_8B, _fit(LLAMA_8B, 0), 2048, 4) == 0
    assert min(AUTO_CONTEXTS) == MIN_AUTO_CONTEXT


def test_auto_context_counts_a_sliding_window_layers_blocks_with_the_batch_budget() -> None:
    """A sliding-window layer holds window − 1 + max_num_batched_tokens tokens, not the whole context."""
    assert GEMMA_2_9B.num_sliding_layers
    blocks = _blocks_for(GEMMA_2_9B, 8192, 4, mnbt=512)
    assert auto_context(GEMMA_2_9B, _fit(GEMMA_2_9B, blocks), 512, 4) == 8192
    assert auto_context(GEMMA_2_9B, _fit(GEMMA_2_9B, blocks), 8192, 4) < 8192
