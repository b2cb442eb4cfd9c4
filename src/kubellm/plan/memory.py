"""Per-GPU memory following vLLM's own accounting (see research/planner.md §1).

V1 (vLLM ≥ 0.8): ``kv = util·total − (weights + activation_peak + non_torch)``; CUDA graphs are
captured after the KV cache is allocated, so they sit outside the budget. ``kv_tokens =
floor(kv / (block·bytes_per_token_per_layer·layers))·block``.

The activation peak of vLLM's profiling run is dominated by the sampler's dummy batch of
``max_num_seqs`` full-vocabulary rows, plus the forward pass over ``max_num_batched_tokens``. The two
coefficients below were fitted on published logs: the llm-d H100 table (Llama-3.1-8B 4.76 GiB,
Qwen3-0.6B 5.56, Qwen3-32B 5.64, gpt-oss-20b 7.38, Llama-3.3-70B-FP8 TP2 4.84; all with 1,024 seqs)
and 256-seq runs (Phi-4 0.94 GiB, Qwen3-235B on L40S 1.40) — all reproduced within 0.05 GiB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubellm.catalog import GpuSpec, ModelArch

GIB = 2**30
BLOCK_SIZE = 16
# Bytes of sampler working memory per (sequence × vocabulary entry) in the V1 profiling run: fp32
# logits plus the softmax/log-softmax/top-k/top-p temporaries (fitted, see module docstring).
SAMPLER_BYTES_PER_LOGIT = 38.3
# Bytes per (token × hidden unit) the forward pass keeps live at its peak (fitted, 16-bit).
FORWARD_BYTES_PER_TOKEN_HIDDEN = 2.0
# V0 (vLLM ≤ 0.7) profiled one unchunked prefill of max(max_model_len, mnbt) tokens; its peak is
# the gated MLP's intermediate tensors plus a few hidden-size buffers, 16-bit each
# (reproduces vllm#10517: 20,000 and 29,000 tokens on an RTX 3090).
V0_BYTES_PER_TOKEN = (6, 6)  # × intermediate_size, × hidden_size
V0_CHUNKED_ABOVE = 32768


@dataclass(frozen=True, slots=True)
class EngineDefaults:
    """vLLM's batch defaults for a GPU (vllm/engine/arg_utils.py, get_batch_defaults, API server)."""

    max_num_seqs: int
    max_num_batched_tokens: int


def engine_defaults(gpu_memory_gib: float, gpu_name: str) -> EngineDefaults:
    """Big-memory non-A100 GPUs get 1,024 sequences and 8,192 tokens per step; the rest 256 and 2,048."""
    if gpu_memory_gib >= 70 and "a100" not in gpu_name.lower():
        return EngineDefaults(max_num_seqs=1024, max_num_batched_tokens=8192)
    return EngineDefaults(max_num_seqs=256, max_num_batched_tokens=2048)


def activation_peak_bytes(
    model: ModelArch,
    max_num_seqs: int,
    max_num_batched_tokens: int,
    max_model_len: int,
    generation: str = "v1",
) -> float:
    """Peak activation memory of the engine's profiling step on one GPU."""
    if generation == "v0":
        # V0 turned chunked prefill on by itself above 32K context; the profile then ran one chunk.
        chunked = max_model_len > V0_CHUNKED_ABOVE
        tokens = max_num_batched_tokens if chunked else max(max_model_len, max_num_batched_tokens)
        per_i, per_h = V0_BYTES_PER_TOKEN
        intermediate = (
            model.moe_intermediate_size * max(1, model.experts_per_token)
            if model.is_moe
            else model.intermediate_size
        )
        return tokens * (per_i * intermediate + per_h * model.hidden_size)
    sampler = SAMPLER_BYTES_PER_LOGIT * max_num_seqs * model.vocab_size
    forward = FORWARD_BYTES_PER_TOKEN_HIDDEN * max_num_batched_tokens * model.hidden_size
    return sampler + forward


def non_torch_bytes(tp: int, gpu: GpuSpec, generation: str = "v1") -> float:
    """CUDA context, cuBLAS workspaces, NCCL and custom all-reduce buffers outside torch's allocator.

    Logs: 0.04–0.35 GiB at TP 1, 0.55 GiB at TP 2 over NVLink, 0.21 GiB at TP 4 over PCIe (no custom
    all-reduce), 7.16 GiB per GPU at TP 8 on V0.
    """
    if tp == 1:
        return 0.15 * GIB
    if generation == "v0":
        return (0.15 + 1.0 * (tp - 1)) * GIB
    if not gpu.has_nvlink:
        return 0.25 * GIB
    return (0.3 + 0.25 * (tp - 1)) * GIB


def cuda_graph_bytes(model: ModelArch, max_num_seqs: int) -> float:
    """Memory of the captured CUDA graphs (0.27–3.45 GiB in logs), growing with depth, MoE and capture sizes."""
    per_layer = 0.01 * (3 if model.is_moe else 1) * (1.5 if max_num_seqs > 512 else 1.0)
    return (0.2 + per_layer * model.num_layers) * GIB


def kv_page_bytes_per_token(
    model: ModelArch, tp: int, pp: int, kv_dtype_bytes: float, generation: str = "v1"
) -> float:
    """Bytes per token of one GPU's KV cache, every layer it holds counted as full attention."""
    per_layer = model.kv_bytes_per_token_per_layer(tp, kv_dtype_bytes)
    if generation == "v0" and model.is_mla:
        per_layer = (
            math.ceil(per_layer / 256) * 256
        )  # V0 aligned each latent entry to 256 bytes (vllm PR #14842)
    layers = math.ceil(model.num_layers / pp)
    return per_layer * layers


def kv_blocks(kv_bytes: float, bytes_per_token: float) -> int:
    if kv_bytes <= 0:
        return 0
    return int(kv_bytes // (bytes_per_token * BLOCK_SIZE))


def tokens_needed_per_request(model: ModelArch, max_model_len: int, max_num_batched_tokens: int) -> float:
    """KV tokens one max-length request needs, averaged over layers (sliding layers need only window + step)."""
    if not model.num_sliding_layers:
        return float(max_model_len)
    window_need = min(model.sliding_window - 1 + max_num_batched_tokens, max_model_len) + BLOCK_SIZE
    full = model.num_full_layers * max_model_len
    sliding = model.num_sliding_layers * window_need
    return (full + sliding) / model.num_layers


def max_concurrency(model: ModelArch, blocks: int, max_model_len: int, max_num_batched_tokens: int) -> float:
    """Requests of max_model_len tokens that fit (vLLM's 'Maximum concurrency … x')."""
    need = tokens_needed_per_request(model, max_model_len, max_num_batched_tokens)
    blocks_per_request = math.ceil(need / BLOCK_SIZE)
    return blocks / blocks_per_request if blocks_per_request else 0.0
