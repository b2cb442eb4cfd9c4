"""Step times of one replica from a roofline calibrated per GPU class on published measurements.

A step reads the weights once (MoE: the experts its tokens touch) and every running sequence's KV cache,
and computes 2 FLOPs per active parameter per token plus attention. It lasts

    step_overhead + layers × layer_overhead + per_sequence × seqs
    + max(bytes / (η_bw × bandwidth), FLOPs / (η_c × peak)) + 2 × layers × all-reduce(TP, interconnect)

where η_bw, η_c and the step overhead belong to the GPU's class
(:mod:`kubellm.planning.calibration`, fitted on published serving measurements and the H200 anchor
measurements). A request also pays a fixed cost before its first token (API server, tokenizer,
scheduling), growing with the GPUs that must agree on a step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.planning.calibration import Calibration, GpuClassCalibration, default_calibration

ACTIVATION_BYTES = 2  # bf16 activations cross the all-reduce


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
    calibration: Calibration | None = field(default=None, compare=False)
    # derived once in __post_init__ (the simulator prices millions of steps)
    _class: GpuClassCalibration | None = field(default=None, init=False, repr=False, compare=False)
    _bandwidth_bytes_per_ms: float = field(default=0.0, init=False, repr=False, compare=False)
    _flops_per_ms: float = field(default=0.0, init=False, repr=False, compare=False)
    _fixed_step_ms: float = field(default=0.0, init=False, repr=False, compare=False)
    _linear_flops_per_token: float = field(default=0.0, init=False, repr=False, compare=False)
    _attention_flops_per_pair: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.calibration is None:
            object.__setattr__(self, "calibration", default_calibration())
        assert self.calibration is not None
        c = self.calibration
        klass = c.for_gpu(self.gpu)
        m = self.model
        per_layer = c.layer_overhead_us * (c.moe_layer_factor if m.is_moe else 1.0)
        shards = self.tp * self.pp
        derived = {
            "_class": klass,
            "_bandwidth_bytes_per_ms": self.gpu.bandwidth_tbs * 1e12 * klass.bandwidth_efficiency / 1e3,
            "_flops_per_ms": self.gpu.peak_tflops(self.compute_dtype) * 1e12 * klass.compute_efficiency / 1e3,
            "_fixed_step_ms": klass.step_overhead_ms + m.num_layers / self.pp * per_layer / 1e3,
            "_linear_flops_per_token": 2.0 * m.active_params / shards,
            "_attention_flops_per_pair": 4.0 * m.num_layers * m.num_attention_heads * m.head_dim / shards,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if not name.startswith("_")}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self.__post_init__()

    # ---- building blocks -----------------------------------------------------------------------
    @property
    def calibrated(self) -> Calibration:
        assert self.calibration is not None
        return self.calibration

    @property
    def cal(self) -> GpuClassCalibration:
        """The calibration of this GPU's class."""
        assert self._class is not None
        return self._class

    @property
    def fixed_step_ms(self) -> float:
        """What every step costs whatever its size: the class's step overhead plus the kernels of each
        layer of this GPU's pipeline stage (an MoE layer counting as several)."""
        return self._fixed_step_ms

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

    def _allreduce_ms(self, tokens: int) -> float:
        """Two all-reduces per layer of this GPU's pipeline stage, of ``tokens`` × hidden activations."""
        if self.tp <= 1:
            return 0.0
        link = self.calibrated.allreduce(self.gpu)
        message = tokens * self.model.hidden_size * ACTIVATION_BYTES
        per_op = link.cost_ms(self.tp, message, self.gpu.nvlink_gbs)
        return 2 * self.model.num_layers / self.pp * per_op

    def _flops(self, tokens: int, context_tokens: float) -> float:
        """FLOPs of ``tokens`` new tokens attending to ``context_tokens`` each, on one GPU."""
        return tokens * (self._linear_flops_per_token + self._attention_flops_per_pair * context_tokens)

    # ---- public API ------------------------------------------------------------------------------
    @property
    def request_overhead_ms(self) -> float:
        """Fixed time a request spends before the engine schedules it (API server, tokenizer)."""
        gpus = self.tp * self.pp
        c = self.calibrated
        return c.request_overhead_ms + c.request_overhead_ms_per_extra_gpu * (gpus - 1)

    @property
    def frontend_serial_ms(self) -> float:
        """The part of :attr:`request_overhead_ms` the API server does one request at a time."""
        return min(self.calibrated.frontend_serial_ms, self.request_overhead_ms)

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
        fixed = self.fixed_step_ms + self.calibrated.per_sequence_us * decode_seqs / 1e3
        return fixed + max(memory_ms, compute_ms) + self._allreduce_ms(tokens)

    def decode_step_ms(self, batch: int, context_tokens: int) -> float:
        """One decode step of ``batch`` sequences with ``context_tokens`` of context each."""
        return self.step_ms(0, batch, batch * context_tokens)

    def prefill_ms(self, tokens: int, context_tokens: int = 0) -> float:
        """Prefill of ``tokens`` prompt tokens (after ``context_tokens`` already cached), one step."""
        if tokens <= 0:
            return 0.0
        memory_ms = (
            self._weights_read_bytes(tokens) + (tokens + context_tokens) * self.kv_bytes_per_token_per_gpu
        ) / (self._bandwidth_bytes_per_ms)
        flops = self._flops(tokens, context_tokens + tokens / 2)
        compute = max(memory_ms, flops / self._flops_per_ms)
        return self.fixed_step_ms + compute + self._allreduce_ms(tokens)

    def prefill_tokens_per_s(self, tokens: int = 4096) -> float:
        return tokens / self.prefill_ms(tokens) * 1e3

    def ttft_ms(
        self, prompt_tokens: int, chunk_tokens: int | None = None, running: int = 0, running_context: int = 0
    ) -> float:
        """Time to first token of one prompt with nothing queued ahead: the request overhead, then the
        prefill in chunks of ``chunk_tokens`` (the engine's max_num_batched_tokens), each chunk's step
        also carrying one decode token for each of ``running`` sequences of ``running_context`` tokens."""
        chunk = max(1, (chunk_tokens or prompt_tokens) - running)
        done = 0
        total = self.request_overhead_ms
        while done < prompt_tokens:
            n = min(chunk, prompt_tokens - done)
            if running:
                total += self.step_ms(n, running, running * running_context)
            else:
                total += self.prefill_ms(n, done)
            done += n
        return total

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
