"""Decode and prefill time from a roofline calibrated on measurements of one H200.

Decode is memory-bound: a step reads the weights once and every running sequence's KV cache. The
H200 measurements (shared/measurements, Llama-3.1-8B bf16, CUDA-graph decode at context 1,024:
6.68 / 7.48 / 8.59 / 13.41 / 18.67 ms at batch 1 / 8 / 32 / 128 / 256) fit
``step = 1.0 ms + bytes / (0.594 × datasheet bandwidth)`` within 7 % at every batch. Large batches
and prefill are compute-bound: prefill ran at ~505 TFLOP/s there (0.51 of the 989 dense peak).
Tensor parallelism adds two all-reduces per layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubellm.catalog import GpuSpec, ModelArch

STEP_OVERHEAD_MS = 1.0  # scheduler + launch floor of a graph-captured step (H200 fit)
BANDWIDTH_EFFICIENCY = 0.594  # achieved / datasheet HBM bandwidth in decode (H200 fit)
COMPUTE_EFFICIENCY = 0.51  # achieved / dense peak in prefill (H200: 505 of 989 TFLOP/s)
ALLREDUCE_US_NVLINK = 6.0  # one small all-reduce over NVLink
ALLREDUCE_US_PCIE = 25.0  # one small all-reduce over PCIe


@dataclass(frozen=True, slots=True)
class PerformanceModel:
    """Step times of one replica; every figure in milliseconds or tokens per second."""

    model: ModelArch
    gpu: GpuSpec
    tp: int
    weights_bytes_per_gpu: float
    kv_bytes_per_token_per_gpu: float
    compute_dtype: str = "bfloat16"
    pp: int = 1

    # ---- building blocks -----------------------------------------------------------------------
    @property
    def _bandwidth_bytes_per_ms(self) -> float:
        return self.gpu.bandwidth_tbs * 1e12 * BANDWIDTH_EFFICIENCY / 1e3

    @property
    def _flops_per_ms(self) -> float:
        return self.gpu.peak_tflops(self.compute_dtype) * 1e12 * COMPUTE_EFFICIENCY / 1e3

    def _weights_read_bytes(self, tokens_in_step: int) -> float:
        """Weight bytes one GPU reads in a step; MoE reads only the experts its tokens touch."""
        m = self.model
        if not m.is_moe or tokens_in_step <= 0 or m.num_experts <= m.experts_per_token:
            return self.weights_bytes_per_gpu
        # total − active = MoE layers × (E − k) experts, so all routed experts = that × E / (E − k)
        routed = (m.total_params - m.active_params) * m.num_experts / (m.num_experts - m.experts_per_token)
        expert_bytes = self.weights_bytes_per_gpu * min(1.0, routed / m.total_params)
        dense_bytes = self.weights_bytes_per_gpu - expert_bytes
        touched = 1.0 - (1.0 - m.experts_per_token / m.num_experts) ** tokens_in_step
        return dense_bytes + expert_bytes * touched

    def _allreduce_ms(self) -> float:
        if self.tp == 1:
            return 0.0
        per_op_us = ALLREDUCE_US_NVLINK if self.gpu.has_nvlink else ALLREDUCE_US_PCIE
        return 2 * self.model.num_layers / self.pp * per_op_us / 1e3

    def _flops(self, tokens: int, context_tokens: float) -> float:
        """FLOPs of ``tokens`` new tokens attending to ``context_tokens`` each, on one GPU."""
        m = self.model
        linear = 2.0 * m.active_params * tokens
        attention = 4.0 * m.num_layers * m.num_attention_heads * m.head_dim * tokens * context_tokens
        return (linear + attention) / (self.tp * self.pp)

    # ---- public API ------------------------------------------------------------------------------
    def step_ms(self, prefill_tokens: int, decode_seqs: int, decode_context_tokens: int) -> float:
        """One engine step: ``prefill_tokens`` of chunked prefill plus one token for each of
        ``decode_seqs`` sequences whose contexts add up to ``decode_context_tokens``."""
        tokens = prefill_tokens + decode_seqs
        if tokens <= 0:
            return 0.0
        memory_bytes = (
            self._weights_read_bytes(tokens)
            + (decode_context_tokens + prefill_tokens) * self.kv_bytes_per_token_per_gpu
        )
        memory_ms = memory_bytes / self._bandwidth_bytes_per_ms
        avg_context = decode_context_tokens / decode_seqs if decode_seqs else 0.0
        flops = self._flops(decode_seqs, avg_context) + self._flops(prefill_tokens, prefill_tokens / 2)
        compute_ms = flops / self._flops_per_ms
        return STEP_OVERHEAD_MS + max(memory_ms, compute_ms) + self._allreduce_ms()

    def decode_step_ms(self, batch: int, context_tokens: int) -> float:
        """One decode step of ``batch`` sequences with ``context_tokens`` of context each."""
        return self.step_ms(0, batch, batch * context_tokens)

    def prefill_ms(self, tokens: int, context_tokens: int = 0) -> float:
        """Prefill of ``tokens`` prompt tokens (after ``context_tokens`` already cached)."""
        if tokens <= 0:
            return 0.0
        memory_ms = (
            self._weights_read_bytes(tokens) + (tokens + context_tokens) * self.kv_bytes_per_token_per_gpu
        ) / (self._bandwidth_bytes_per_ms)
        flops = self._flops(tokens, context_tokens + tokens / 2)
        return STEP_OVERHEAD_MS + max(memory_ms, flops / self._flops_per_ms) + self._allreduce_ms()

    def prefill_tokens_per_s(self, tokens: int = 4096) -> float:
        return tokens / self.prefill_ms(tokens) * 1e3

    def steady_state(
        self, concurrency: int, prompt_tokens: int = 1024, output_tokens: int = 256
    ) -> tuple[float, float]:
        """(inter-token latency ms, output tokens/s) with ``concurrency`` requests always running.

        Each request's prompt is prefilled in chunks alongside the decodes, so a step carries
        ``concurrency × prompt / output`` prefill tokens on average.
        """
        if concurrency <= 0:
            return 0.0, 0.0
        context = prompt_tokens + output_tokens // 2
        prefill_per_step = round(concurrency * prompt_tokens / max(1, output_tokens))
        step = self.step_ms(prefill_per_step, concurrency, concurrency * context)
        return step, concurrency * 1e3 / step
