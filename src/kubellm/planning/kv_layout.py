"""How vLLM lays out the KV cache of one GPU: groups, pages, blocks, reported tokens and concurrency.

vLLM's hybrid allocator (vllm/v1/core/kv_cache_utils.py, 0.9.2+) groups layers by cache kind (full,
sliding-window, chunked-local, Mamba state); every group holds ``group_size`` layers — the fewest layers
of any kind — and the last group of a kind is padded. All groups share one pool of blocks: a block is one
page for each of ``group_size`` layers, so ``num_blocks = available // (page × group_size)``. Mamba
layers keep one page-sized state per request; vLLM grows the attention block so that an attention page
is at least a Mamba page (models/config.py, HybridAttentionMambaModelConfig).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubellm.catalog import ModelArch
from kubellm.planning.vllm_versions import VllmAccounting

BLOCK_SIZE = 16
_KV_KINDS = ("full", "sliding", "chunked", "mamba")


@dataclass(frozen=True, slots=True)
class KvLayout:
    """The cache layout of one GPU (one TP rank, one pipeline stage)."""

    groups: tuple[tuple[str, int], ...]  # (kind, number of groups of that kind)
    group_size: int  # layers per group
    block_size: int  # tokens per attention block
    page_bytes: int  # bytes of one block of one layer
    token_bytes: float  # KV bytes per token of one attention layer
    sliding_window: int
    chunk_size: int

    @property
    def num_groups(self) -> int:
        return sum(n for _, n in self.groups)

    @property
    def block_bytes(self) -> int:
        """Bytes one block takes across the group_size layers that share it."""
        return self.page_bytes * self.group_size

    @property
    def bytes_per_token(self) -> float:
        """Attention KV bytes per token on this GPU, every KV layer counted as full (vLLM's per-token view)."""
        kv_layers = sum(n for kind, n in self.groups if kind != "mamba") * self.group_size
        return self.token_bytes * kv_layers


def kv_layout(model: ModelArch, tp: int, pp: int, kv_dtype_bytes: float, acct: VllmAccounting) -> KvLayout:
    """The groups and pages vLLM builds for ``model`` on one GPU."""
    token_bytes = model.kv_bytes_per_token_per_layer(tp, kv_dtype_bytes)
    counts = {k: math.ceil(model.count(k) / pp) for k in _KV_KINDS if model.count(k)}
    if not acct.hybrid_allocator:  # before 0.9.2 every attention layer was planned as full attention
        attn = sum(n for k, n in counts.items() if k != "mamba")
        counts = {"full": attn} | ({"mamba": counts["mamba"]} if "mamba" in counts else {})
    if not counts:
        counts = {"full": math.ceil(model.num_layers / pp)}
    block = BLOCK_SIZE
    if "mamba" in counts:
        state = model.mamba_state_bytes(tp, kv_dtype_bytes if kv_dtype_bytes >= 2 else 2.0)
        block = BLOCK_SIZE * max(1, math.ceil(state / (BLOCK_SIZE * token_bytes)))
    group_size = counts["full"] if len(counts) == 1 and "full" in counts else min(counts.values())
    groups = tuple((kind, math.ceil(n / group_size)) for kind, n in counts.items())
    return KvLayout(
        groups=groups,
        group_size=group_size,
        block_size=block,
        page_bytes=round(block * token_bytes),
        token_bytes=token_bytes,
        sliding_window=model.sliding_window,
        chunk_size=model.attention_chunk_size,
    )


def kv_blocks(kv_bytes: float, layout: KvLayout) -> int:
    if kv_bytes <= 0:
        return 0
    return int(kv_bytes // layout.block_bytes)


def blocks_per_request(layout: KvLayout, max_model_len: int, max_num_batched_tokens: int) -> int:
    """Blocks one request of ``max_model_len`` tokens holds (kv_cache_interface.py max_memory_usage_bytes)."""
    need = 0
    for kind, n in layout.groups:
        if kind == "mamba":
            per_group = 1  # one state page per request
        elif kind == "sliding":
            tokens = min(layout.sliding_window - 1 + max_num_batched_tokens, max_model_len)
            per_group = math.ceil(tokens / layout.block_size) + 1
        elif kind == "chunked":
            tokens = min(layout.chunk_size + max_num_batched_tokens, max_model_len)
            per_group = math.ceil(tokens / layout.block_size)
        else:
            per_group = math.ceil(max_model_len / layout.block_size)
        need += per_group * n
    return need


def max_concurrency(layout: KvLayout, blocks: int, max_model_len: int, max_num_batched_tokens: int) -> float:
    """Requests of ``max_model_len`` tokens that fit at once (vLLM's 'Maximum concurrency … x')."""
    need = blocks_per_request(layout, max_model_len, max_num_batched_tokens)
    return blocks / need if need else 0.0


def reported_tokens(
    layout: KvLayout, blocks: int, max_model_len: int, max_num_batched_tokens: int, acct: VllmAccounting
) -> int:
    """What that release logs as 'GPU KV cache size: N tokens'."""
    if acct.token_report == "concurrency":
        return int(max_concurrency(layout, blocks, max_model_len, max_num_batched_tokens) * max_model_len)
    if acct.token_report == "groups":
        return blocks // max(layout.num_groups, 1) * layout.block_size
    return blocks * layout.block_size
