"""The non-KV memory of one GPU as docs/planner.md §2 gives vLLM's accounting, release by release: the
profiling step's activation peak (the larger of the dummy forward pass and the sampler, plus the MoE
workspace), non-torch memory by TP, PP and interconnect, the CUDA-graph capture list and estimate, and
the batch defaults each release picks for a GPU."""

from __future__ import annotations

import dataclasses

import pytest

from kubellm.catalog import default_catalog
from kubellm.planning.memory import (
    GIB,
    PROFILE_BASE_BYTES,
    activation_peak_bytes,
    cuda_graph_bytes,
    cudagraph_capture_sizes,
    engine_defaults,
    forward_bytes_per_token,
    moe_workspace_bytes,
    non_torch_bytes,
    unified_memory_bytes,
)
from kubellm.planning.vllm_versions import accounting_for

CATALOG = default_catalog()
LLAMA_8B = CATALOG.model(
    "llama-3.1-8b"
)  # dense, gated MLP: h 4096, 32 × 128 query heads, 8 KV heads, I 14336
QWEN3_MOE = CATALOG.model("qwen3-30b-a3b")  # MoE, 8 of 128 experts, expert I 768, no dense layers
H100, L4, GB10 = CATALOG.gpu("H100-SXM-80GB"), CATALOG.gpu("L4"), CATALOG.gpu("GB10")
V0_6, V0_10, V0_11, V0_18 = (accounting_for(v) for v in ("0.6.0", "0.10.1", "0.11.0", "0.18.0"))


def test_a_dense_layers_widest_point_is_its_mlp_split_over_tp() -> None:
    # gated MLP: 3 × I / tp; attention: (2 q + 2 kv) / tp; plus 2 h of residual, at 2 bytes
    for tp in (1, 2, 4):
        mlp = 3 * 14336 / tp
        assert forward_bytes_per_token(LLAMA_8B, tp, 2.0) == (2 * 4096 + mlp) * 2.0
    plain = dataclasses.replace(LLAMA_8B, gated_mlp=False)
    assert forward_bytes_per_token(plain, 1, 2.0) == (2 * 4096 + 2 * 14336) * 2.0
    assert forward_bytes_per_token(LLAMA_8B, 1, 4.0) == 2 * forward_bytes_per_token(LLAMA_8B, 1, 2.0)


def test_attention_is_the_widest_point_when_the_mlp_is_narrow() -> None:
    narrow = dataclasses.replace(LLAMA_8B, intermediate_size=1024)
    q, kv = 32 * 128, 2 * 8 * 128
    assert forward_bytes_per_token(narrow, 1, 2.0) == (2 * 4096 + q + kv + q) * 2.0
    assert forward_bytes_per_token(narrow, 2, 2.0) == (2 * 4096 + (q + kv + q) / 2) * 2.0
    more_kv = dataclasses.replace(narrow, num_kv_heads=32)
    assert forward_bytes_per_token(more_kv, 1, 2.0) == (2 * 4096 + q + 2 * 32 * 128 + q) * 2.0


def test_a_moe_layer_holds_its_experts_caches_and_shared_expert() -> None:
    h, inter, k = 2048, 768, 8
    moe = k * (3 * inter + h)  # wider than attention (2 × 4096 + 2 × 512) and no dense MLP
    assert forward_bytes_per_token(QWEN3_MOE, 1, 2.0) == (2 * h + moe) * 2.0
    assert forward_bytes_per_token(QWEN3_MOE, 2, 2.0) == (2 * h + k * (3 * inter / 2 + h)) * 2.0
    shared = dataclasses.replace(QWEN3_MOE, num_shared_experts=2)
    assert forward_bytes_per_token(shared, 1, 2.0) == (2 * h + moe + 3 * 2 * inter) * 2.0
    # no expert size of its own: the experts are as wide as the dense MLP
    plain = dataclasses.replace(QWEN3_MOE, moe_intermediate_size=0)
    assert forward_bytes_per_token(plain, 1, 2.0) == (2 * h + k * (3 * 6144 + h)) * 2.0
    # a MoE model with dense layers also holds the dense MLP, here wider than the experts' caches
    dense_first = dataclasses.replace(QWEN3_MOE, first_dense_layers=1, intermediate_size=20000)
    assert forward_bytes_per_token(dense_first, 1, 2.0) == (2 * h + 3 * 20000) * 2.0
    no_dense = dataclasses.replace(dense_first, first_dense_layers=0)
    assert forward_bytes_per_token(no_dense, 1, 2.0) == (2 * h + k * (3 * inter + h)) * 2.0


def test_the_peak_is_the_sampler_when_the_vocabulary_is_large_else_the_forward_pass() -> None:
    acct = accounting_for("0.11.0", flashinfer_sampler=False)  # the PyTorch sort: 38 B per logit
    sampler = 38.0 * 256 * 128256 + 2048 * 4096 * 2.0
    assert activation_peak_bytes(LLAMA_8B, 1, 256, 2048, 8192, acct) == sampler + PROFILE_BASE_BYTES
    # rows are min(max_num_seqs, tokens): 4096 sequences in a 2048-token step sample 2048 rows
    rows_capped = 38.0 * 2048 * 128256 + 2048 * 4096 * 2.0
    assert activation_peak_bytes(LLAMA_8B, 1, 4096, 2048, 8192, acct) == rows_capped + PROFILE_BASE_BYTES
    small_vocab = dataclasses.replace(LLAMA_8B, vocab_size=1000)
    forward = 2048 * forward_bytes_per_token(small_vocab, 1, 2.0)
    assert activation_peak_bytes(small_vocab, 1, 256, 2048, 8192, acct) == forward + PROFILE_BASE_BYTES
    flashinfer = accounting_for("0.11.0", flashinfer_sampler=True)
    assert activation_peak_bytes(LLAMA_8B, 1, 256, 2048, 8192, flashinfer) < sampler


def test_moe_models_add_their_workspace_to_the_peak() -> None:
    acct = accounting_for("0.11.0", flashinfer_sampler=False)
    workspace = 2048 * 8 * (2 * 768 + 2048) * 2.0
    assert moe_workspace_bytes(QWEN3_MOE, 1, 2048, 2.0) == workspace
    assert moe_workspace_bytes(QWEN3_MOE, 2, 2048, 2.0) == 2048 * 8 * (768 + 2048) * 2.0
    plain = dataclasses.replace(QWEN3_MOE, moe_intermediate_size=0)
    assert moe_workspace_bytes(plain, 1, 2048, 2.0) == 2048 * 8 * (2 * 6144 + 2048) * 2.0
    assert moe_workspace_bytes(LLAMA_8B, 1, 2048, 2.0) == 0.0
    sampler = 38.0 * 256 * 151936 + 2048 * 2048 * 2.0
    assert (
        activation_peak_bytes(QWEN3_MOE, 1, 256, 2048, 8192, acct) == sampler + workspace + PROFILE_BASE_BYTES
    )


def test_v0_profiled_one_unchunked_prefill_up_to_32k_tokens() -> None:
    per_token = 6 * 14336 + 6 * 4096
    assert V0_6.generation == "v0"
    assert activation_peak_bytes(LLAMA_8B, 1, 256, 2048, 8192, V0_6) == 8192 * per_token
    assert activation_peak_bytes(LLAMA_8B, 1, 256, 16384, 8192, V0_6) == 16384 * per_token
    assert activation_peak_bytes(LLAMA_8B, 1, 256, 2048, 32768, V0_6) == 32768 * per_token
    assert activation_peak_bytes(LLAMA_8B, 1, 256, 2048, 32769, V0_6) == 2048 * per_token  # chunked above
    moe = 6 * 768 * 8 + 6 * 2048
    assert activation_peak_bytes(QWEN3_MOE, 1, 256, 2048, 4096, V0_6) == 4096 * moe


def test_non_torch_memory_by_release_tp_pp_and_interconnect() -> None:
    assert non_torch_bytes(1, 1, H100, V0_6) == 0.15 * GIB
    assert non_torch_bytes(4, 1, H100, V0_6) == (0.15 + 3.0) * GIB
    assert non_torch_bytes(1, 1, H100, V0_11) == 0.05 * GIB
    assert non_torch_bytes(1, 1, H100, V0_18) == pytest.approx(0.25 * GIB)  # + graphs profiled in the window
    assert non_torch_bytes(1, 2, H100, V0_18) == 0.07 * GIB
    assert non_torch_bytes(2, 1, L4, V0_11) == 0.25 * GIB  # PCIe
    assert non_torch_bytes(2, 1, H100, V0_11) == pytest.approx(2.07 * GIB)  # symmetric-memory buffers
    assert non_torch_bytes(8, 1, H100, V0_11) == pytest.approx((2.07 + 6 * 0.04) * GIB)
    assert non_torch_bytes(2, 1, H100, V0_10) == pytest.approx(0.55 * GIB)  # custom all-reduce only
    assert non_torch_bytes(4, 1, H100, V0_10) == pytest.approx((0.3 + 3 * 0.25) * GIB)


def test_a_unified_memory_gpu_counts_host_allocations_from_0_11_2() -> None:
    assert GB10.unified_memory and GB10.uma_profile_overhead_gib > 0
    overhead = GB10.uma_profile_overhead_gib * GIB
    assert unified_memory_bytes(GB10, accounting_for("0.11.2")) == overhead
    assert unified_memory_bytes(GB10, accounting_for("0.11.1")) == 0.0
    assert unified_memory_bytes(H100, accounting_for("0.11.2")) == 0.0
    assert non_torch_bytes(1, 1, GB10, accounting_for("0.11.2")) == pytest.approx(0.05 * GIB + overhead)


def test_the_capture_list_is_vllms_up_to_twice_the_sequences_512_and_the_step() -> None:
    full = [1, 2, 4, *range(8, 256, 8), *range(256, 513, 16)]
    assert cudagraph_capture_sizes(1024, 8192) == full and len(full) == 51
    assert cudagraph_capture_sizes(256, 8192) == full  # 2 × 256 = 512
    assert cudagraph_capture_sizes(64, 8192) == [s for s in full if s <= 128]
    assert cudagraph_capture_sizes(1024, 100) == [s for s in full if s <= 100]
    assert cudagraph_capture_sizes(2, 8192) == [1, 2, 4]
    assert cudagraph_capture_sizes(1, 8192) == [1, 2]


def test_the_graph_estimate_grows_with_depth_and_the_captured_sizes() -> None:
    assert cuda_graph_bytes(LLAMA_8B) == pytest.approx((0.05 + 0.019 * 32) * GIB)
    assert cuda_graph_bytes(LLAMA_8B, 1024, 8192) == cuda_graph_bytes(LLAMA_8B)
    full = sum(cudagraph_capture_sizes(1024, 8192))
    share = sum(cudagraph_capture_sizes(64, 8192)) / full
    assert cuda_graph_bytes(LLAMA_8B, 64, 8192) == pytest.approx((0.05 + 0.019 * 32) * GIB * share)


@pytest.mark.parametrize(
    ("memory_gib", "name", "rule", "large"),
    [
        (80, "H100-SXM-80GB", "name", True),
        (141, "H200", "name", True),
        (80, "A100-80GB", "name", False),  # up to 0.8.4 only H100/H200 by name
        (94, "H100-NVL", "memory", True),
        (80, "A100-80GB", "memory", True),  # 0.8.5: every GPU of at least 70 GiB
        (80, "A100-80GB", "memory-not-a100", False),
        (70, "X70", "memory-not-a100", True),
        (69.9, "X70", "memory-not-a100", False),
        (48, "L40S", "memory-not-a100", False),
    ],
)
def test_batch_defaults_follow_each_releases_rule(
    memory_gib: float, name: str, rule: str, large: bool
) -> None:
    defaults = engine_defaults(memory_gib, name, rule)
    expected = (1024, 8192) if large else (256, 2048)
    assert (defaults.max_num_seqs, defaults.max_num_batched_tokens) == expected


def test_batch_defaults_default_to_the_current_rule_and_small_on_unified_memory() -> None:
    assert engine_defaults(80, "A100-80GB").max_num_seqs == 256
    assert engine_defaults(80, "H100-SXM-80GB").max_num_seqs == 1024
    small = engine_defaults(128, "GB10", unified_memory=True)
    assert (small.max_num_seqs, small.max_num_batched_tokens) == (256, 2048)
