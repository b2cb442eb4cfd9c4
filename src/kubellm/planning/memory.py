"""The non-KV memory of one GPU, following vLLM's own accounting by release (docs/planner.md §2).

V1 (vLLM ≥ 0.8): ``kv = util·total − (weights + activation_peak + non_torch) [− cuda_graph_estimate]``
(gpu_worker.py determine_available_memory; the CUDA-graph estimate is subtracted from 0.20 on).

The activation peak is the torch peak of ``profile_run``: a dummy forward pass over
``max_num_batched_tokens`` tokens, then the sampler over ``min(max_num_seqs, max_num_batched_tokens)``
rows of full-vocabulary logits. The two happen one after the other, so the peak is the larger of the two
plus what stays allocated (the forward's hidden states). The constants were fitted on the 'tune' half of
benchmarks/data/vllm_startup_logs.yaml only (``python benchmarks/planner_accuracy.py --fit`` prints the fit).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.planning.vllm_versions import SYMM_MEM_WORLD_SIZES, VllmAccounting

GIB = 2**30
# Live intermediates of the forward pass per token, as a multiple of the largest layer's tensors.
FORWARD_LIVE_FACTOR = 1.0
# Allocations that stay through profiling whatever the batch (fitted with the sampler bytes per logit).
PROFILE_BASE_BYTES = 0.02 * GIB
# The dummy sampler run's peak per logit (row × vocabulary entry) by top-k/top-p path: the PyTorch sort keeps fp32
# logits, a sorted copy, int64 indices, softmax and scatter buffers (~38 B: llm-d's 2025 H100 table, research point
# #10, the tune half's 0.10-0.11 pip installs); FlashInfer's and the Triton kernel's peak is 14.8 B (llm-d's 0.19 logs).
SAMPLER_BYTES_PER_LOGIT = {"sort": 38.0, "flashinfer": 14.8, "triton": 14.8}
# Non-torch memory (CUDA context, cuBLAS workspaces, NCCL): TP 1; pipeline ranks; TP > 1 by interconnect.
# At TP 1 the 0.10-0.17 logs show 0.02-0.07 GiB; from 0.18 the CUDA-graph profiling inside the window adds ~0.2 GiB.
NON_TORCH_TP1 = 0.05 * GIB
NON_TORCH_GRAPH_PROFILE = 0.2 * GIB
NON_TORCH_PP = 0.07 * GIB
# NCCL + symmetric-memory all-reduce (vLLM ≥ 0.11, NVLink, a capability symm_mem_allreduce lists)
NON_TORCH_TP_NVLINK_SYMM = 2.07 * GIB
NON_TORCH_TP_NVLINK_STEP = 0.04 * GIB
NON_TORCH_TP_NVLINK_OLD = (0.3 * GIB, 0.25 * GIB)  # base, per extra rank (custom all-reduce only)
NON_TORCH_TP_PCIE = 0.25 * GIB
# CUDA-graph memory as vLLM's estimator reports it (profile_cudagraph_memory), fitted on the tune half.
GRAPH_BASE_BYTES = 0.05 * GIB
GRAPH_PER_LAYER_BYTES = 0.019 * GIB
# V0 (vLLM ≤ 0.7) profiled one unchunked prefill of max(max_model_len, mnbt) tokens (vllm#10517).
V0_BYTES_PER_TOKEN = (6, 6)  # × intermediate_size, × hidden_size
V0_CHUNKED_ABOVE = 32768


@dataclass(frozen=True, slots=True)
class EngineDefaults:
    """vLLM's batch defaults for a GPU (vllm/engine/arg_utils.py, get_batch_defaults, API server)."""

    max_num_seqs: int
    max_num_batched_tokens: int


def engine_defaults(
    gpu_memory_gib: float, gpu_name: str, rule: str = "memory-not-a100", unified_memory: bool = False
) -> EngineDefaults:
    """The API server's batch defaults: large (1,024 sequences, 8,192 tokens per step) or small (256, 2,048).

    ``rule`` is the release's (VllmAccounting.batch_defaults): up to 0.8.4 only GPUs named H100/H200 get the large
    ones; 0.8.5 every GPU of at least 70 GiB; from 0.9.0 every GPU of at least 70 GiB that is not an A100.
    A unified-memory GPU (GB10) always gets the small ones: vLLM reads the device memory through NVML
    (platforms/cuda.py:523-526@v0.13.0), which reports none there, and get_batch_defaults falls back to 0 on the
    error (arg_utils.py:2236-2242@v0.21.0).
    """
    if unified_memory:
        return EngineDefaults(max_num_seqs=256, max_num_batched_tokens=2048)
    name = gpu_name.lower()
    if rule == "name":
        large = "h100" in name or "h200" in name
    else:
        large = gpu_memory_gib >= 70 and (rule == "memory" or "a100" not in name)
    if large:
        return EngineDefaults(max_num_seqs=1024, max_num_batched_tokens=8192)
    return EngineDefaults(max_num_seqs=256, max_num_batched_tokens=2048)


def forward_bytes_per_token(model: ModelArch, tp: int, act_bytes: float) -> float:
    """Bytes one token keeps live at the widest point of a layer during the dummy forward pass."""
    h = model.hidden_size
    q = model.num_attention_heads * model.head_dim
    kv = 2 * model.num_kv_heads * model.head_dim
    attention = (q + kv + q) / tp
    dense_layers = not model.is_moe or model.first_dense_layers > 0
    mlp = (3 if model.gated_mlp else 2) * model.intermediate_size / tp if dense_layers else 0.0
    widest = max(attention, mlp)
    if model.is_moe:
        inter = model.moe_intermediate_size or model.intermediate_size
        # fused_moe caches: [M, topk, 2I/tp], [M·topk, I/tp], [M, topk, h]; plus the shared expert's MLP.
        moe = model.experts_per_token * (3 * inter / tp + h) + 3 * model.num_shared_experts * inter / tp
        widest = max(widest, moe)
    return (2 * h + widest) * act_bytes


def activation_peak_bytes(
    model: ModelArch,
    tp: int,
    max_num_seqs: int,
    max_num_batched_tokens: int,
    max_model_len: int,
    acct: VllmAccounting,
    act_bytes: float = 2.0,
) -> float:
    """Peak torch memory of vLLM's profiling step on one GPU (what it logs as 'peak activation')."""
    if acct.generation == "v0":
        chunked = max_model_len > V0_CHUNKED_ABOVE
        tokens = max_num_batched_tokens if chunked else max(max_model_len, max_num_batched_tokens)
        per_i, per_h = V0_BYTES_PER_TOKEN
        inter = (
            model.moe_intermediate_size * max(1, model.experts_per_token)
            if model.is_moe
            else model.intermediate_size
        )
        return tokens * (per_i * inter + per_h * model.hidden_size)
    tokens = max_num_batched_tokens
    forward = FORWARD_LIVE_FACTOR * tokens * forward_bytes_per_token(model, tp, act_bytes)
    rows = min(max_num_seqs, tokens)
    per_logit = SAMPLER_BYTES_PER_LOGIT[acct.sampler]
    sampler = per_logit * rows * model.vocab_size + tokens * model.hidden_size * act_bytes
    return max(forward, sampler) + moe_workspace_bytes(model, tp, tokens, act_bytes) + PROFILE_BASE_BYTES


def moe_workspace_bytes(model: ModelArch, tp: int, tokens: int, act_bytes: float) -> float:
    """The fused-MoE intermediate caches ([M, topk, 2I/tp] and [M, topk, h]), still held while sampling.

    Fitted on the tune half (Qwen3-30B-A3B, Llama 4 Scout): MoE models' peaks exceed the dense ones by
    about this much at the same sampler batch.
    """
    if not model.is_moe:
        return 0.0
    inter = model.moe_intermediate_size or model.intermediate_size
    return tokens * model.experts_per_token * (2 * inter / tp + model.hidden_size) * act_bytes


def symm_mem_allreduce(tp: int, gpu: GpuSpec, acct: VllmAccounting) -> bool:
    """Whether vLLM's torch symmetric-memory all-reduce runs: on by default from 0.11 (VLLM_ALLREDUCE_USE_SYMM_MEM,
    envs.py:1410@v0.11.0, :1559@v0.21.0) for the TP group (cuda_communicator.py:40,67-71@v0.11.0), but only on the
    compute capabilities and world sizes of SYMM_MEM_ALL_REDUCE_MAX_SIZES — elsewhere the communicator is disabled
    (symm_mem.py:57-71@v0.11.0, :65-78@v0.21.0)."""
    return (
        acct.symm_mem_allreduce
        and gpu.compute_capability in acct.symm_mem_capabilities
        and tp in SYMM_MEM_WORLD_SIZES
    )


def non_torch_bytes(
    tp: int, pp: int, gpu: GpuSpec, acct: VllmAccounting, graphs_captured: bool = True
) -> float:
    """CUDA context, cuBLAS workspaces, NCCL and all-reduce buffers outside torch's allocator.

    ``graphs_captured`` False (--enforce-eager): vLLM skips profile_cudagraph_memory inside the profiling window
    (gpu_worker.py:380@v0.19.0; cudagraph_mode NONE at :401-407@v0.21.0, set by enforce_eager at
    vllm/config/vllm.py:941-947@v0.21.0), so the graph-profiling share of non-torch memory is not taken.
    """
    if acct.generation == "v0":
        return (0.15 + 1.0 * (tp - 1)) * GIB if tp > 1 else 0.15 * GIB
    if tp == 1:
        profiled = acct.graphs_profiled and graphs_captured
        base = NON_TORCH_PP if pp > 1 else NON_TORCH_TP1 + (NON_TORCH_GRAPH_PROFILE if profiled else 0.0)
    elif not gpu.has_nvlink:
        base = NON_TORCH_TP_PCIE
    elif symm_mem_allreduce(tp, gpu, acct):
        base = NON_TORCH_TP_NVLINK_SYMM + NON_TORCH_TP_NVLINK_STEP * (tp - 2)
    else:
        first, step = NON_TORCH_TP_NVLINK_OLD
        base = first + step * (tp - 1)
    return base + unified_memory_bytes(gpu, acct)


def unified_memory_bytes(gpu: GpuSpec, acct: VllmAccounting) -> float:
    """Extra 'non-torch' memory a unified-memory GPU shows during profiling.

    From 0.11.2 vLLM measures free memory on UMA GPUs (GB10, GH200, Jetson) as the host's available memory
    (mem_utils.py MemorySnapshot.measure), so host allocations made while profiling — the compiler's heap,
    loader buffers — count as non-torch memory and come out of the KV budget.
    """
    if not gpu.unified_memory:
        return 0.0
    return gpu.uma_profile_overhead_gib * GIB if acct.uma_host_available else 0.0


def cudagraph_capture_sizes(max_num_seqs: int, max_num_batched_tokens: int) -> list[int]:
    """The batch sizes vLLM captures by default (vllm/config/vllm.py:1482-1540@v0.21.0, _set_cudagraph_sizes)."""
    largest = min(max_num_seqs * 2, 512, max_num_batched_tokens)
    sizes = [1, 2, 4, *range(8, 256, 8), *range(256, 513, 16)]
    return [s for s in sizes if s <= largest]


FULL_CAPTURE_SUM = sum(
    cudagraph_capture_sizes(1024, 8192)
)  # the list the estimate was fitted on (512 largest)


def cuda_graph_bytes(
    model: ModelArch,
    max_num_seqs: int = 1024,
    max_num_batched_tokens: int = 8192,
    enforce_eager: bool = False,
) -> float:
    """vLLM's CUDA-graph memory estimate, growing with depth and with the batch sizes it captures.

    0 with --enforce-eager: vLLM then captures nothing (cudagraph_mode NONE and an empty capture list,
    vllm/config/vllm.py:1133-1139@v0.21.0; capture_model is skipped, gpu_worker.py:611@v0.21.0) and estimates
    nothing (gpu_worker.py:380@v0.19.0, :401-407@v0.21.0).

    0.05 + 0.019 × layers GiB with the full capture list (0.4-1.9 GiB in llm-d's 0.19 logs, 1,024 sequences); a
    graph's private buffers grow with its batch size, so fewer sequences capture a smaller sum of sizes
    (the tune half's 0.22 log at 64 sequences estimates 0.14 GiB for 48 layers).
    """
    if enforce_eager:
        return 0.0
    share = sum(cudagraph_capture_sizes(max_num_seqs, max_num_batched_tokens)) / FULL_CAPTURE_SUM
    return (GRAPH_BASE_BYTES + GRAPH_PER_LAYER_BYTES * model.num_layers) * share
