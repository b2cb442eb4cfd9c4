"""The performance model's documented rules (docs/sizing.md, planning/performance.py).

A step lasts ``step_overhead + layers × layer_overhead + per_sequence × seqs + max(bytes / (η_bw × bandwidth),
FLOPs / (η_c × peak)) + 2 × layers × all-reduce(TP)``: it reads the weights once (an MoE step only the
experts its tokens touch) and the KV cache of every token it attends to, and computes 2 FLOPs per active
parameter per token plus 4 × layers × heads × head_dim per (token, context token) pair. Each term is
checked alone by a calibration that switches the others off, so a test names the rule it holds.
"""

from __future__ import annotations

import dataclasses

import pytest

from kubellm.catalog import GpuSpec, ModelArch, default_catalog
from kubellm.planning.calibration import Calibration, default_calibration
from kubellm.planning.performance import PerformanceModel

CATALOG = default_catalog()
LLAMA_8B = CATALOG.model("Llama-3.1-8B")
MIXTRAL = CATALOG.model("Mixtral-8x7B")
H200 = CATALOG.gpu("H200-141GB")
KV_PER_TOKEN = 131072.0
REAL = default_calibration()


def _calibration(
    *, bandwidth: float = 1.0, compute: float = 1.0, step_ms: float = 0.0, **fields: float
) -> Calibration:
    """The default calibration with every fixed cost off unless given, and chosen efficiencies."""
    classes = {
        name: dataclasses.replace(
            klass, bandwidth_efficiency=bandwidth, compute_efficiency=compute, step_overhead_ms=step_ms
        )
        for name, klass in REAL.classes.items()
    }
    costs = {"layer_overhead_us": 0.0, "per_sequence_us": 0.0, "request_overhead_ms": 0.0}
    return dataclasses.replace(REAL, classes=classes, **{**costs, **fields})


MEMORY_BOUND = _calibration(compute=1e6)  # compute is free: the step is its bytes over the bandwidth
COMPUTE_BOUND = _calibration(bandwidth=1e6)  # bytes are free: the step is its FLOPs over the peak


def _perf(
    calibration: Calibration,
    model: ModelArch = LLAMA_8B,
    gpu: GpuSpec = H200,
    tp: int = 1,
    pp: int = 1,
) -> PerformanceModel:
    weights = float(model.weights_bytes_for("bfloat16", None)) / (tp * pp)
    return PerformanceModel(model, gpu, tp, weights, KV_PER_TOKEN / (tp * pp), pp=pp, calibration=calibration)


def _bytes_ms(perf: PerformanceModel, read: float) -> float:
    return read / (perf.gpu.bandwidth_tbs * 1e12 * 1.0) * 1e3


def _flops_ms(perf: PerformanceModel, tokens: int, context: float) -> float:
    m = perf.model
    shards = perf.tp * perf.pp
    per_token = (
        2.0 * m.active_params / shards
        + 4.0 * m.num_layers * m.num_attention_heads * m.head_dim / shards * context
    )
    return tokens * per_token / (perf.gpu.peak_tflops("bfloat16") * 1e12 * 1.0) * 1e3


# ---- memory: weights once per step, plus the KV cache of every token attended to --------------------------
@pytest.mark.parametrize(("batch", "context"), [(1, 0), (1, 4096), (32, 1024)])
def test_a_memory_bound_decode_step_reads_the_weights_once_and_every_sequences_cache(
    batch: int, context: int
) -> None:
    perf = _perf(MEMORY_BOUND)
    read = perf.weights_bytes_per_gpu + batch * context * KV_PER_TOKEN
    assert perf.decode_step_ms(batch, context) == pytest.approx(_bytes_ms(perf, read), rel=1e-9)


def test_a_mixed_step_reads_the_cache_of_its_decodes_and_of_its_prefill_tokens() -> None:
    perf = _perf(MEMORY_BOUND)
    read = perf.weights_bytes_per_gpu + (8 * 2000 + 300) * KV_PER_TOKEN
    assert perf.step_ms(300, 8, 8 * 2000) == pytest.approx(_bytes_ms(perf, read), rel=1e-9)


def test_a_memory_bound_prefill_reads_the_cache_of_the_prompt_and_of_the_cached_prefix() -> None:
    perf = _perf(MEMORY_BOUND)
    read = perf.weights_bytes_per_gpu + (16 + 5000) * KV_PER_TOKEN
    assert perf.prefill_ms(16, 5000) == pytest.approx(_bytes_ms(perf, read), rel=1e-9)
    # nothing cached unless said
    assert perf.prefill_ms(16) == pytest.approx(
        _bytes_ms(perf, perf.weights_bytes_per_gpu + 16 * KV_PER_TOKEN)
    )


def test_a_step_is_as_slow_as_its_slower_bound() -> None:
    real = _perf(_calibration())
    for tokens in (1, 64, 8192):
        assert real.prefill_ms(tokens) == pytest.approx(
            max(_perf(MEMORY_BOUND).prefill_ms(tokens), _perf(COMPUTE_BOUND).prefill_ms(tokens)), rel=1e-9
        )
    # efficiencies divide the datasheet figures: half the bandwidth efficiency, twice the memory time
    half = _perf(_calibration(bandwidth=0.5, compute=1e6))
    assert half.decode_step_ms(4, 1024) == pytest.approx(2 * _perf(MEMORY_BOUND).decode_step_ms(4, 1024))
    slow = _perf(_calibration(bandwidth=1e6, compute=0.5))
    assert slow.prefill_ms(4096) == pytest.approx(2 * _perf(COMPUTE_BOUND).prefill_ms(4096))


# ---- compute: 2 FLOPs per active parameter per token, plus attention over the context ---------------------
@pytest.mark.parametrize(("tokens", "cached"), [(1, 0), (512, 0), (4096, 0), (2048, 30000)])
def test_a_prefill_computes_two_flops_per_parameter_and_attends_to_half_its_own_prompt_on_average(
    tokens: int, cached: int
) -> None:
    perf = _perf(COMPUTE_BOUND)
    assert perf.prefill_ms(tokens, cached) == pytest.approx(
        _flops_ms(perf, tokens, cached + tokens / 2), rel=1e-9
    )


def test_a_compute_bound_mixed_step_adds_its_decodes_attention_and_its_prefill_chunks() -> None:
    perf = _perf(COMPUTE_BOUND)
    expected = _flops_ms(perf, 64, 3000) + _flops_ms(perf, 1000, 500)
    assert perf.step_ms(1000, 64, 64 * 3000) == pytest.approx(expected, rel=1e-9)
    # a step of prefill only: no decode context at all
    assert perf.step_ms(1000, 0, 0) == pytest.approx(_flops_ms(perf, 1000, 500), rel=1e-9)


def test_a_moe_model_computes_with_its_active_parameters_not_its_total() -> None:
    perf = _perf(COMPUTE_BOUND, model=MIXTRAL)
    assert MIXTRAL.active_params < MIXTRAL.total_params / 2
    assert perf.prefill_ms(4096) == pytest.approx(_flops_ms(perf, 4096, 2048), rel=1e-9)


@pytest.mark.parametrize(("tp", "pp"), [(2, 1), (2, 2), (1, 4)])
def test_tensor_and_pipeline_shards_split_the_flops(tp: int, pp: int) -> None:
    one = _perf(COMPUTE_BOUND)
    linkless = dataclasses.replace(H200, nvlink_gbs=None)
    no_link = _calibration(
        bandwidth=1e6, nvlink=dataclasses.replace(REAL.nvlink, latency_us_tp2=0.0, latency_us_per_doubling=0.0, link_gbs=1e30),
        pcie=dataclasses.replace(REAL.pcie, latency_us_tp2=0.0, latency_us_per_doubling=0.0, link_gbs=1e30),
    )  # fmt: skip
    split = _perf(no_link, gpu=linkless, tp=tp, pp=pp)
    assert split.prefill_ms(4096) == pytest.approx(one.prefill_ms(4096) / (tp * pp), rel=1e-6)


# ---- MoE: a step reads the experts its tokens touch -----------------------------------------------------
def _expert_bytes(perf: PerformanceModel) -> float:
    m = perf.model
    routed = (m.total_params - m.active_params) * m.num_experts / (m.num_experts - m.experts_per_token)
    return perf.weights_bytes_per_gpu * routed / m.total_params


@pytest.mark.parametrize("tokens", [1, 2, 3, 8])
def test_a_moe_decode_reads_the_dense_part_and_the_experts_its_tokens_touch(tokens: int) -> None:
    perf = _perf(MEMORY_BOUND, model=MIXTRAL)
    e, k = MIXTRAL.num_experts, MIXTRAL.experts_per_token
    experts = _expert_bytes(perf)
    touched = 1.0 - (1.0 - k / e) ** tokens  # each expert is missed by every token with chance 1 − k/E
    read = perf.weights_bytes_per_gpu - experts + experts * touched
    assert perf.decode_step_ms(tokens, 0) == pytest.approx(_bytes_ms(perf, read), rel=1e-9)


def test_one_moe_token_reads_k_of_e_experts_and_a_large_batch_reads_them_all() -> None:
    perf = _perf(MEMORY_BOUND, model=MIXTRAL)
    full = _bytes_ms(perf, perf.weights_bytes_per_gpu)
    one = perf.decode_step_ms(1, 0)
    share = MIXTRAL.experts_per_token / MIXTRAL.num_experts
    assert one == pytest.approx(
        _bytes_ms(perf, perf.weights_bytes_per_gpu - _expert_bytes(perf) * (1 - share))
    )
    assert one < 0.5 * full
    assert perf.decode_step_ms(256, 0) == pytest.approx(full, rel=1e-6)
    # the experts are most of Mixtral's weights: 2 of 8 experts read → a little over a quarter
    assert 0.25 < one / full < 0.4


def test_a_dense_model_reads_all_its_weights_whatever_the_batch() -> None:
    perf = _perf(MEMORY_BOUND)
    full = _bytes_ms(perf, perf.weights_bytes_per_gpu)
    assert perf.decode_step_ms(1, 0) == pytest.approx(full, rel=1e-9)
    assert perf.prefill_ms(1) == pytest.approx(_bytes_ms(perf, perf.weights_bytes_per_gpu + KV_PER_TOKEN))


def test_a_moe_that_routes_every_token_to_every_expert_reads_all_its_weights() -> None:
    every = dataclasses.replace(MIXTRAL, experts_per_token=MIXTRAL.num_experts)
    perf = _perf(MEMORY_BOUND, model=every)
    assert perf.decode_step_ms(1, 0) == pytest.approx(_bytes_ms(perf, perf.weights_bytes_per_gpu), rel=1e-9)


def test_fp8_weights_halve_the_bytes_a_memory_bound_decode_reads() -> None:
    bf16 = _perf(MEMORY_BOUND)
    fp8 = PerformanceModel(
        LLAMA_8B, H200, 1, bf16.weights_bytes_per_gpu / 2, KV_PER_TOKEN, calibration=MEMORY_BOUND
    )
    assert fp8.decode_step_ms(1, 0) == pytest.approx(bf16.decode_step_ms(1, 0) / 2, rel=1e-9)


# ---- fixed costs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("pp", [1, 2, 4])
def test_the_fixed_step_cost_is_the_class_overhead_plus_each_layer_of_the_stage(pp: int) -> None:
    cal = _calibration(step_ms=3.0, layer_overhead_us=10.0, moe_layer_factor=4.0)
    dense = _perf(cal, pp=pp)
    assert dense.fixed_step_ms == pytest.approx(3.0 + LLAMA_8B.num_layers / pp * 10.0 / 1e3)
    moe = _perf(cal, model=MIXTRAL, pp=pp)  # an MoE layer launches the kernels of several
    assert moe.fixed_step_ms == pytest.approx(3.0 + MIXTRAL.num_layers / pp * 10.0 * 4.0 / 1e3)


def test_every_running_sequence_adds_its_per_sequence_cost_to_a_step() -> None:
    base = _perf(MEMORY_BOUND)
    costly = _perf(_calibration(compute=1e6, per_sequence_us=50.0))
    for seqs in (1, 8, 100):
        assert costly.decode_step_ms(seqs, 512) - base.decode_step_ms(seqs, 512) == pytest.approx(seqs * 0.05)
    # a prefill-only step has no running sequence to pay for
    assert costly.step_ms(128, 0, 0) == pytest.approx(base.step_ms(128, 0, 0))


def test_an_empty_step_or_prefill_takes_no_time() -> None:
    perf = _perf(_calibration(step_ms=3.0, per_sequence_us=50.0))
    assert perf.step_ms(0, 0, 0) == 0.0
    assert perf.prefill_ms(0) == 0.0
    assert perf.prefill_ms(1) > 3.0


# ---- tensor parallelism: two all-reduces per layer -------------------------------------------------------
@pytest.mark.parametrize(("tp", "pp", "tokens"), [(2, 1, 1), (2, 1, 4096), (4, 2, 64), (8, 1, 512)])
def test_a_tensor_parallel_step_pays_two_all_reduces_of_its_activations_per_layer(
    tp: int, pp: int, tokens: int
) -> None:
    gpu = dataclasses.replace(H200, nvlink_gbs=450.0)  # the GPU's own link, not the calibration's default
    perf = _perf(MEMORY_BOUND, gpu=gpu, tp=tp, pp=pp)
    link = REAL.allreduce(gpu)
    assert link.link_gbs != gpu.nvlink_gbs
    per_op = link.cost_ms(tp, tokens * LLAMA_8B.hidden_size * 2, 450.0)  # bf16 activations
    expected = 2 * LLAMA_8B.num_layers / pp * per_op
    # the same bytes on one GPU: no all-reduce
    free = PerformanceModel(LLAMA_8B, gpu, 1, perf.weights_bytes_per_gpu, perf.kv_bytes_per_token_per_gpu, pp=pp,
                            calibration=MEMORY_BOUND)  # fmt: skip
    assert perf.prefill_ms(tokens) - free.prefill_ms(tokens) == pytest.approx(expected, rel=1e-9)
    assert perf.decode_step_ms(tokens, 0) - free.decode_step_ms(tokens, 0) == pytest.approx(
        expected, rel=1e-9
    )


def test_one_gpu_pays_no_all_reduce() -> None:
    perf = _perf(MEMORY_BOUND)
    assert perf.decode_step_ms(1, 0) == pytest.approx(_bytes_ms(perf, perf.weights_bytes_per_gpu), rel=1e-12)


# ---- derived figures -------------------------------------------------------------------------------------
def test_a_decode_step_carries_no_prefill() -> None:
    perf = _perf(_calibration(step_ms=1.0, per_sequence_us=20.0, compute=0.3, bandwidth=0.8))
    for batch, context in ((1, 100), (16, 2048)):
        assert perf.decode_step_ms(batch, context) == perf.step_ms(0, batch, batch * context)


def test_prefill_throughput_is_tokens_over_the_prefill_time_of_a_4096_token_prompt() -> None:
    perf = _perf(REAL)
    assert perf.prefill_tokens_per_s() == pytest.approx(4096 / perf.prefill_ms(4096) * 1e3, rel=1e-12)
    assert perf.prefill_tokens_per_s(512) == pytest.approx(512 / perf.prefill_ms(512) * 1e3, rel=1e-12)


@pytest.mark.parametrize(("concurrency", "prompt", "output"), [(1, 1024, 256), (8, 1000, 255), (32, 200, 1)])
def test_steady_state_runs_each_step_with_the_prompts_prefilled_alongside_the_decodes(
    concurrency: int, prompt: int, output: int
) -> None:
    """A request's prompt is prefilled in chunks over its answer: a step carries concurrency × prompt /
    output prefill tokens, each decode attends to the prompt plus half its answer (whole tokens)."""
    perf = _perf(REAL)
    itl, tokens_per_s = perf.steady_state(concurrency, prompt, output)
    context = prompt + output // 2
    expected = perf.step_ms(round(concurrency * prompt / output), concurrency, concurrency * context)
    assert itl == pytest.approx(expected, rel=1e-12)
    assert tokens_per_s == pytest.approx(concurrency * 1e3 / expected, rel=1e-12)


def test_steady_state_defaults_to_1024_token_prompts_and_256_token_answers() -> None:
    perf = _perf(REAL)
    assert perf.steady_state(16) == perf.steady_state(16, 1024, 256)
    assert perf.steady_state(0) == (0.0, 0.0)


def test_time_to_first_token_is_the_request_overhead_and_the_prefill() -> None:
    perf = _perf(_calibration(step_ms=2.0, request_overhead_ms=40.0, compute=0.5, bandwidth=0.7))
    assert perf.ttft_ms(3000) == pytest.approx(40.0 + perf.prefill_ms(3000), rel=1e-12)


def test_a_chunked_prompt_pays_one_step_per_chunk_each_after_the_chunks_before() -> None:
    perf = _perf(_calibration(step_ms=2.0, request_overhead_ms=40.0, compute=0.5, bandwidth=0.7))
    expected = 40.0 + perf.prefill_ms(1024, 0) + perf.prefill_ms(1024, 1024) + perf.prefill_ms(452, 2048)
    assert perf.ttft_ms(2500, chunk_tokens=1024) == pytest.approx(expected, rel=1e-12)


def test_running_decodes_share_each_chunk_step_and_take_their_tokens_from_the_budget() -> None:
    perf = _perf(_calibration(step_ms=2.0, request_overhead_ms=40.0, compute=0.5, bandwidth=0.7))
    # a 1024-token budget with 24 running sequences leaves 1000 prompt tokens per step
    expected = 40.0 + perf.step_ms(1000, 24, 24 * 3000) + perf.step_ms(500, 24, 24 * 3000)
    assert perf.ttft_ms(1500, 1024, running=24, running_context=3000) == pytest.approx(expected, rel=1e-12)
    # running sequences with no context given attend to nothing
    no_context = 40.0 + perf.step_ms(1000, 24, 0) + perf.step_ms(500, 24, 0)
    assert perf.ttft_ms(1500, 1024, running=24) == pytest.approx(no_context, rel=1e-12)


def test_a_budget_all_taken_by_running_decodes_still_advances_the_prompt_one_token_per_step() -> None:
    perf = _perf(_calibration(step_ms=2.0, request_overhead_ms=40.0, compute=0.5, bandwidth=0.7))
    expected = 40.0 + 3 * perf.step_ms(1, 4, 4 * 100)
    assert perf.ttft_ms(3, 4, running=4, running_context=100) == pytest.approx(expected, rel=1e-12)
    assert perf.ttft_ms(3, 5, running=4, running_context=100) == pytest.approx(expected, rel=1e-12)
