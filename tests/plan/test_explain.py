"""The plain-language pieces of the KV-cache decision: what one token costs per layer and rank, and how the
hybrid allocator grouped the layers — as `kubellm plan` prints them."""

from __future__ import annotations

import dataclasses

from kubellm.catalog import default_catalog
from kubellm.planning.explain import kv_heads_text, layout_text
from kubellm.planning.kv_layout import KvLayout

CATALOG = default_catalog()
LLAMA_8B = CATALOG.model("llama-3.1-8b")  # 8 KV heads of 128


def _layout(groups: tuple[tuple[str, int], ...], window: int = 0) -> KvLayout:
    return KvLayout(
        groups=groups,
        group_size=6,
        block_size=32,
        page_bytes=1,
        token_bytes=1.0,
        sliding_window=window,
        chunk_size=0,
    )


def test_one_group_needs_no_words() -> None:
    assert layout_text(_layout((("full", 1),))) == ""
    assert layout_text(_layout(())) == ""


def test_hybrid_groups_are_listed_with_their_size_block_and_window() -> None:
    assert layout_text(_layout((("full", 1), ("sliding", 5)), window=4096)) == (
        "; hybrid allocator: groups of 6 layers (1 full, 5 sliding), 32-token blocks, window 4096"
    )
    assert layout_text(_layout((("mamba", 3), ("full", 1)))) == (
        "; hybrid allocator: groups of 6 layers (3 mamba, 1 full), 32-token blocks"
    )


def test_gqa_heads_split_over_tensor_parallel_ranks() -> None:
    assert kv_heads_text(LLAMA_8B, 1) == "2 × 8 KV heads × 128 head_dim × bytes "
    assert kv_heads_text(LLAMA_8B, 4) == "2 × 2 KV heads × 128 head_dim × bytes "
    assert kv_heads_text(LLAMA_8B, 8) == "2 × 1 KV heads × 128 head_dim × bytes "


def test_beyond_the_kv_heads_each_rank_holds_a_replica() -> None:
    assert kv_heads_text(LLAMA_8B, 16) == "2 × 1 KV heads (replicated: TP > KV heads) × 128 head_dim × bytes "


def test_mla_is_one_latent_per_token() -> None:
    mla = dataclasses.replace(LLAMA_8B, kv_lora_rank=512, qk_rope_head_dim=64)
    assert kv_heads_text(mla, 8) == "(512 + 64) latent × 2 bytes "
