"""Plain-language pieces of the planner's decisions: how the KV cache is laid out and sized per token."""

from __future__ import annotations

from kubellm.catalog import ModelArch
from kubellm.planning.kv_layout import KvLayout


def layout_text(lay: KvLayout) -> str:
    """The hybrid allocator's groups, for models with more than one kind of layer cache."""
    if lay.num_groups <= 1:
        return ""
    groups = ", ".join(f"{n} {kind}" for kind, n in lay.groups)
    return (
        f"; hybrid allocator: groups of {lay.group_size} layers ({groups}), {lay.block_size}-token blocks"
        + (f", window {lay.sliding_window}" if lay.sliding_window else "")
    )


def kv_heads_text(model: ModelArch, tp: int) -> str:
    """What one token costs in one layer on one TP rank."""
    if model.is_mla:
        return f"({model.kv_lora_rank} + {model.qk_rope_head_dim}) latent × 2 bytes "
    per_rank = max(1, model.num_kv_heads // tp)
    replicated = " (replicated: TP > KV heads)" if tp > model.num_kv_heads else ""
    return f"2 × {per_rank} KV heads{replicated} × {model.head_dim} head_dim × bytes "
