"""The planner against published vLLM log figures and the H200 measurements."""

from __future__ import annotations

from typing import Any

import pytest

from kubellm.catalog import default_catalog
from kubellm.errors import CatalogError, PlanError
from kubellm.planning import plan, valid_tps
from kubellm.spec import LLMService


def service(model_name: str, gpu_type: str, **sections: dict[str, Any]) -> LLMService:
    data: dict[str, Any] = {
        "metadata": {"name": "t"},
        "model": {"source": "hf://x/y", "name": model_name},
        "gpu": {"type": gpu_type},
    }
    for key, values in sections.items():
        data.setdefault(key, {}).update(values)
    return LLMService.model_validate(data)


def test_llama_8b_kv_bytes_and_weights_are_exact() -> None:
    p = plan(service("meta-llama/Llama-3.1-8B-Instruct", "h100", gpu={"count": 1}))
    assert p.kv_cache.bytes_per_token == 131_072
    assert p.memory.weights_gib == pytest.approx(14.96, abs=0.005)


def test_llm_d_h100_kv_memory_reproduced() -> None:
    # llm-d empirical table (research/validation_points.md #21): 51.38 GiB available for KV
    # (a mid-2025 release whose sampler sorted the vocabulary: no FlashInfer sampler in that install)
    p = plan(
        service("Llama-3.1-8B", "h100", gpu={"count": 1}, serving={"max_model_len": 16000}),
        vllm_version="0.10.1",
        flashinfer_sampler=False,
    )
    assert p.memory.kv_cache_gib == pytest.approx(51.38, abs=0.15)


def test_tensor_parallel_two_reproduces_qwen3_32b() -> None:
    # validation point #23: 34.49 GiB per GPU at TP 2
    p = plan(
        service("Qwen3-32B", "h100", gpu={"count": 2}, serving={"max_model_len": 16000}),
        vllm_version="0.10.1",
        flashinfer_sampler=False,
    )
    assert p.memory.kv_cache_gib == pytest.approx(34.49, abs=0.3)
    assert p.parallelism.tensor_parallel == 2


def test_llama_70b_bf16_on_one_h100_does_not_fit_and_proposes_tp2_or_fp8() -> None:
    p = plan(service("Llama-3.3-70B-Instruct", "h100", gpu={"count": 1}))
    assert not p.fits
    assert p.suggestion is not None
    assert "tensor_parallel=2" in p.suggestion.what or "fp8" in p.suggestion.what


def test_llama_70b_fp8_on_one_h100_fails_like_the_log() -> None:
    # validation point #20: KV −1.44 GiB
    p = plan(service("Llama-3.3-70B-Instruct", "h100", gpu={"count": 1}, model={"quantization": "fp8"},
                     serving={"max_model_len": 16000}), vllm_version="0.10.1", flashinfer_sampler=False)  # fmt: skip
    assert not p.fits
    assert p.memory.kv_cache_gib == pytest.approx(-1.44, abs=0.2)


def test_qwen3_32b_at_32k_on_one_h100_does_not_fit() -> None:
    p = plan(service("Qwen3-32B", "h100", gpu={"count": 1}, serving={"max_model_len": 32768}))
    assert not p.fits
    assert p.kv_cache.max_concurrency < 1


def test_falcon_7b_is_multi_query() -> None:
    p = plan(service("tiiuae/falcon-7b", "a100-40gb", gpu={"count": 1}))
    assert p.kv_cache.bytes_per_token_model == 2 * 32 * 1 * 64 * 2
    assert any("MQA" in d.why for d in p.decisions)


def test_auto_tp_picks_the_smallest_that_fits() -> None:
    p = plan(service("Llama-3.3-70B-Instruct", "h100"))
    assert p.fits
    assert p.parallelism.tensor_parallel in (2, 4)
    assert all(t in valid_tps(default_catalog().model("Llama-3.3-70B-Instruct"), 8) for t in (1, 2, 4, 8))


def test_tp_that_does_not_divide_heads_is_refused_with_the_valid_sizes() -> None:
    with pytest.raises(PlanError) as err:
        plan(service("Llama-3.1-8B", "h100", gpu={"count": 3}))
    assert "does not divide" in err.value.what and "1, 2, 4, 8" in err.value.fix


def test_kv_heads_replicate_beyond_kv_head_count() -> None:
    tp8 = plan(service("Qwen2.5-7B-Instruct", "l4", gpu={"count": 4}, serving={"max_model_len": 4096}))
    # Qwen2.5-7B has 4 KV heads: at TP 4 each rank holds one, the per-rank KV cannot shrink further
    model = default_catalog().model("Qwen2.5-7B-Instruct")
    assert tp8.kv_cache.bytes_per_token == model.num_layers * 2 * 1 * model.head_dim * 2


def test_mla_latent_is_replicated_on_every_rank() -> None:
    p = plan(service("DeepSeek-V3", "h200", gpu={"count": 8}, serving={"max_model_len": 32768}))
    assert p.kv_cache.bytes_per_token == 61 * (512 + 64) * 2


def test_fp8_kv_cache_halves_bytes_per_token() -> None:
    base = plan(service("Llama-3.1-8B", "l40s", gpu={"count": 1}, serving={"max_model_len": 8192}))
    fp8 = plan(
        service(
            "Llama-3.1-8B", "l40s", gpu={"count": 1}, serving={"max_model_len": 8192, "kv_cache_dtype": "fp8"}
        )
    )
    assert fp8.kv_cache.bytes_per_token * 2 == base.kv_cache.bytes_per_token
    assert fp8.kv_cache.tokens > 1.9 * base.kv_cache.tokens


def test_bf16_falls_back_to_fp16_on_t4() -> None:
    p = plan(service("Qwen2.5-0.5B-Instruct", "t4", gpu={"count": 1}, serving={"max_model_len": 4096}))
    assert p.settings.dtype == "float16"
    assert "--dtype" in p.engine_args


def test_mig_slice_plans_against_the_slice_memory() -> None:
    p = plan(service("Qwen2.5-7B-Instruct", "a100-80gb", gpu={"sharing": "mig", "mig_profile": "3g.40gb"},
                     serving={"max_model_len": 8192}))  # fmt: skip
    assert p.memory.total_gib < 41
    assert p.resources.gpu_resource == "nvidia.com/mig-3g.40gb"


def test_unknown_mig_profile_lists_valid_ones() -> None:
    with pytest.raises(PlanError, match=r"3g\.40gb"):
        plan(service("Qwen2.5-7B-Instruct", "a100-80gb", gpu={"sharing": "mig", "mig_profile": "9g.99gb"}))


def test_engine_args_carry_the_planned_values() -> None:
    p = plan(service("Llama-3.1-8B", "l4"))
    args = p.engine_args
    assert args[args.index("--max-model-len") + 1] == str(p.kv_cache.max_model_len)
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.90"
    assert args[args.index("--tensor-parallel-size") + 1] == "1"


def test_decode_prediction_tracks_h200_measurements() -> None:
    p = plan(service("Llama-3.1-8B", "h200", gpu={"count": 1}))
    measured = {1: 6.683, 8: 7.475, 32: 8.587, 128: 13.41, 256: 18.673}
    for batch, ms in measured.items():
        assert p.performance.decode_ms_by_batch[batch] == pytest.approx(ms, rel=0.2)
    assert p.performance.decode_ms_per_step == p.performance.decode_ms_by_batch[1]


def test_cost_per_million_follows_throughput() -> None:
    p = plan(service("Llama-3.1-8B", "h100", gpu={"count": 1}))
    assert p.cost.usd_per_hour is not None and p.cost.usd_per_million_output_tokens is not None
    expected = p.cost.usd_per_hour / (p.performance.output_tokens_per_s * 3600) * 1e6
    assert p.cost.usd_per_million_output_tokens == pytest.approx(expected, rel=0.01)


def test_tp_above_one_gets_shared_memory_and_longer_startup_for_big_models() -> None:
    small = plan(service("Llama-3.1-8B", "h100", gpu={"count": 1}))
    big = plan(
        service("Llama-3.3-70B-Instruct", "h100", gpu={"count": 4}),
    )
    assert big.resources.shm_gib > small.resources.shm_gib
    assert big.probes.startup_budget_s >= small.probes.startup_budget_s
    assert big.resources.memory_gib > small.resources.memory_gib


def test_engine_that_cannot_serve_the_model_is_named() -> None:
    with pytest.raises(PlanError, match="cannot serve"):
        plan(service("Flan-T5-XXL", "a100-80gb", engine={"name": "vllm"}))


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(CatalogError, match="did you mean"):
        plan(service("Llama-3.1-8", "h100"))


def test_plan_is_deterministic() -> None:
    a = plan(service("Mixtral-8x7B", "a100-80gb")).to_json_dict()
    b = plan(service("Mixtral-8x7B", "a100-80gb")).to_json_dict()
    assert a == b


def test_cpu_node_plans_llamacpp_without_a_gpu() -> None:
    p = plan(service("Phi-3-mini-4k", "cpu", engine={"name": "llamacpp"}, serving={"max_model_len": 4096}))
    assert p.resources.gpu_count == 0
    assert p.resources.memory_gib >= p.memory.weights_gib + p.memory.kv_cache_gib


def test_cpu_node_refuses_gpu_engines() -> None:
    with pytest.raises(PlanError, match=r"only llama\.cpp"):
        plan(service("Phi-3-mini-4k", "cpu"))
