"""vLLM's KV-cache arithmetic on one GPU (kv_layout.py): how layers group, how many blocks one request
holds in each kind of group, how many requests fit, and the token figure each release logs."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.catalog import default_catalog
from kubellm.catalog.model import ModelArch
from kubellm.planning.kv_layout import (
    KvLayout,
    blocks_per_request,
    kv_blocks,
    kv_layout,
    max_concurrency,
    reported_tokens,
)
from kubellm.planning.vllm_versions import accounting_for

CATALOG = default_catalog()
LLAMA_8B = CATALOG.model("llama-3.1-8b")  # 32 layers, 8 KV heads of 128
V0_9 = accounting_for("0.9.0")  # before the hybrid allocator: every attention layer planned as full
V0_11 = accounting_for("0.11.0")  # groups
V0_21 = accounting_for("0.21.0")  # concurrency


def _layout(
    groups: tuple[tuple[str, int], ...], block: int = 16, window: int = 0, chunk: int = 0
) -> KvLayout:
    return KvLayout(
        groups=groups,
        group_size=4,
        block_size=block,
        page_bytes=block * 1000,
        token_bytes=1000.0,
        sliding_window=window,
        chunk_size=chunk,
    )


def _kinds(model: ModelArch, kinds: tuple[str, ...], **fields: object) -> ModelArch:
    return dataclasses.replace(model, layer_kinds=kinds, num_layers=len(kinds), **fields)  # type: ignore[arg-type]


# --- the layout ----------------------------------------------------------------------------------


def test_a_full_attention_model_is_one_group_of_all_its_layers() -> None:
    lay = kv_layout(LLAMA_8B, 1, 1, 2.0, V0_11)
    token = 2 * 8 * 128 * 2  # K and V, 8 heads of 128, 2 bytes
    assert lay.groups == (("full", 1),) and lay.group_size == 32 and lay.num_groups == 1
    assert (lay.block_size, lay.token_bytes, lay.page_bytes) == (16, token, 16 * token)
    assert lay.block_bytes == 16 * token * 32
    assert lay.bytes_per_token == token * 32


@given(st.integers(1, 8), st.sampled_from([1, 2, 4, 8]), st.sampled_from([1.0, 2.0]))
def test_pipeline_stages_split_the_layers_rounding_up(pp: int, tp: int, dtype: float) -> None:
    lay = kv_layout(LLAMA_8B, tp, pp, dtype, V0_11)
    assert lay.group_size == math.ceil(32 / pp)
    assert lay.token_bytes == LLAMA_8B.kv_bytes_per_token_per_layer(tp, dtype)
    assert lay.bytes_per_token == lay.token_bytes * math.ceil(32 / pp)


def test_sliding_layers_get_groups_of_the_smaller_kind_count() -> None:
    # 4 full and 12 sliding layers: groups of 4 layers, one full group and three sliding ones.
    model = _kinds(LLAMA_8B, ("full",) * 4 + ("sliding",) * 12, sliding_window=1024)
    lay = kv_layout(model, 1, 1, 2.0, V0_11)
    assert lay.group_size == 4 and dict(lay.groups) == {"full": 1, "sliding": 3} and lay.num_groups == 4
    assert lay.sliding_window == 1024
    assert lay.bytes_per_token == lay.token_bytes * 16  # every KV layer counted as full, per token


def test_an_uneven_kind_count_pads_its_last_group() -> None:
    model = _kinds(LLAMA_8B, ("full",) * 5 + ("sliding",) * 11, sliding_window=512)
    lay = kv_layout(model, 1, 1, 2.0, V0_11)
    assert lay.group_size == 5 and dict(lay.groups) == {"full": 1, "sliding": 3}


def test_before_the_hybrid_allocator_every_attention_layer_is_planned_as_full() -> None:
    model = _kinds(LLAMA_8B, ("full",) * 4 + ("sliding",) * 12, sliding_window=1024)
    lay = kv_layout(model, 1, 1, 2.0, V0_9)
    assert lay.groups == (("full", 1),) and lay.group_size == 16


def test_chunked_attention_layers_form_their_own_groups() -> None:
    model = _kinds(LLAMA_8B, ("chunked", "chunked", "chunked", "full") * 4, attention_chunk_size=8192)
    lay = kv_layout(model, 1, 1, 2.0, V0_11)
    assert lay.group_size == 4 and dict(lay.groups) == {"chunked": 3, "full": 1} and lay.chunk_size == 8192


def test_a_model_without_cache_kinds_is_planned_as_full_attention() -> None:
    model = _kinds(LLAMA_8B, ("none",) * 6)
    lay = kv_layout(model, 1, 2, 2.0, V0_11)
    assert lay.groups == (("full", 1),) and lay.group_size == 3


def _mamba_model() -> ModelArch:
    kinds = ("mamba", "mamba", "mamba", "full") * 4
    return _kinds(
        LLAMA_8B,
        kinds,
        mamba_kind="mamba2",
        mamba_heads=64,
        mamba_head_dim=64,
        mamba_state_size=128,
        mamba_groups=8,
        mamba_inner=4096,
        mamba_conv_kernel=4,
    )


def test_the_attention_block_grows_until_a_page_holds_a_mamba_state() -> None:
    model = _mamba_model()
    lay = kv_layout(model, 1, 1, 2.0, V0_11)
    state = model.mamba_state_bytes(1, 2.0)
    token = model.kv_bytes_per_token_per_layer(1, 2.0)
    assert lay.block_size % 16 == 0 and lay.page_bytes >= state
    assert (lay.block_size - 16) * token < state  # the smallest such block
    assert dict(lay.groups) == {"mamba": 3, "full": 1} and lay.group_size == 4
    assert lay.bytes_per_token == token * 4  # only the attention layers keep KV per token


def test_a_mamba_state_is_held_in_at_least_16_bit_even_with_an_fp8_cache() -> None:
    model = _mamba_model()
    fp8 = kv_layout(model, 1, 1, 1.0, V0_11)
    state_16 = model.mamba_state_bytes(1, 2.0)
    assert fp8.page_bytes >= state_16
    assert (fp8.block_size - 16) * model.kv_bytes_per_token_per_layer(1, 1.0) < state_16


# --- blocks ----------------------------------------------------------------------------------------


def test_blocks_are_whole_and_none_without_memory() -> None:
    lay = _layout((("full", 1),))  # 64 000-byte blocks
    assert kv_blocks(0, lay) == 0 and kv_blocks(-5e9, lay) == 0
    assert kv_blocks(64_000 * 10 - 1, lay) == 9
    assert kv_blocks(64_000 * 10, lay) == 10


@pytest.mark.parametrize(("max_len", "blocks"), [(16, 1), (17, 2), (8192, 512), (8191, 512)])
def test_a_full_attention_request_holds_its_length_in_blocks(max_len: int, blocks: int) -> None:
    assert blocks_per_request(_layout((("full", 1),)), max_len, 2048) == blocks
    assert blocks_per_request(_layout((("full", 3),)), max_len, 2048) == 3 * blocks


def test_a_sliding_group_holds_the_window_and_one_step_of_prefill_plus_a_block() -> None:
    lay = _layout((("sliding", 1),), window=4096)
    assert blocks_per_request(lay, 32768, 2048) == math.ceil((4095 + 2048) / 16) + 1  # 385
    assert blocks_per_request(lay, 1000, 2048) == math.ceil(1000 / 16) + 1  # shorter than the window


def test_a_chunked_group_holds_one_chunk_and_one_step_of_prefill() -> None:
    lay = _layout((("chunked", 2),), chunk=8192)
    assert blocks_per_request(lay, 131072, 2048) == 2 * (8192 + 2048) // 16
    assert blocks_per_request(lay, 4000, 2048) == 2 * 250


def test_a_mamba_group_holds_one_state_page_per_request() -> None:
    lay = _layout((("mamba", 3), ("full", 1)), block=64)
    assert blocks_per_request(lay, 8192, 2048) == 3 + 8192 // 64


def test_concurrency_is_blocks_over_the_blocks_of_one_request() -> None:
    lay = _layout((("full", 1),))
    assert max_concurrency(lay, 1024, 8192, 2048) == 2.0
    assert max_concurrency(lay, 1000, 8192, 2048) == pytest.approx(1000 / 512)
    assert max_concurrency(_layout(()), 1000, 8192, 2048) == 0.0  # no groups, nothing to hold


# --- the figure each release logs ------------------------------------------------------------------


def test_each_release_reports_its_own_token_figure() -> None:
    lay = _layout((("full", 1), ("sliding", 3)), window=1024)
    blocks = 10_000
    assert reported_tokens(lay, blocks, 8192, 2048, V0_9) == blocks * 16  # 0.9: blocks × block size
    assert reported_tokens(lay, blocks, 8192, 2048, V0_11) == blocks // 4 * 16  # 0.9.2–0.20: per group
    per_request = 8192 // 16 + 3 * (math.ceil((1023 + 2048) / 16) + 1)
    assert reported_tokens(lay, blocks, 8192, 2048, V0_21) == int(blocks / per_request * 8192)


def test_a_layout_without_groups_reports_per_one_group() -> None:
    assert reported_tokens(_layout(()), 100, 8192, 2048, V0_11) == 100 * 16
