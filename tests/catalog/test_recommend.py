"""kubellm.planning.recommend: which catalog models fit a GPU, planned with the real planner.

(It lives with the catalog tests because it answers a catalog question: what of the catalog fits here.)
"""

from __future__ import annotations

import pytest

from kubellm.catalog import Catalog, GpuSpec, ModelArch, default_catalog
from kubellm.errors import PlanError
from kubellm.planning import Plan, plan
from kubellm.planning.recommend import assess, recommend
from kubellm.spec import LLMService


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


def test_an_8b_model_fits_one_l4_unquantized(catalog: Catalog) -> None:
    r = assess(catalog.model("Llama-3.1-8B"), catalog.gpu("l4"))
    assert r.fits
    assert r.quantization is None and r.tensor_parallel == 1
    assert r.max_model_len == 8192  # the default context, below the model's 131,072
    assert r.weights_gib == pytest.approx(14.96, abs=0.01)
    assert r.max_concurrency >= 1
    assert "KV cache" in r.why


def test_a_14b_model_fits_an_l4_only_with_fp8(catalog: Catalog) -> None:
    r = assess(catalog.model("Qwen2.5-14B-Instruct"), catalog.gpu("l4"))
    assert r.fits and r.quantization == "fp8"
    assert "fp8 on load" in r.why


def test_no_fp8_retry_on_gpus_without_fp8(catalog: Catalog) -> None:
    calls: list[str] = []

    def counting(spec: LLMService, model: ModelArch, gpu: GpuSpec) -> Plan:
        calls.append(spec.model.quantization)
        return plan(spec, model=model, gpu=gpu)

    gemma = catalog.model("Gemma-3-12B")  # 21.9 GiB of bf16 weights: planned, but no room for the KV cache
    assert not assess(gemma, catalog.gpu("a10g"), planner=counting).fits
    assert calls == ["none"]  # Ampere has no fp8: one plan, no quantized retry
    calls.clear()
    assert assess(gemma, catalog.gpu("l4"), planner=counting).fits
    assert calls == ["none", "fp8"]


def test_weights_larger_than_the_gpus_are_rejected_without_planning(catalog: Catalog) -> None:
    def never(spec: LLMService, model: ModelArch, gpu: GpuSpec) -> Plan:
        raise AssertionError("the planner should not run")

    r = assess(catalog.model("Llama-3.1-405B"), catalog.gpu("l4"), planner=never)
    assert not r.fits and "exceed" in r.why


def test_seventy_b_needs_two_h100_and_fp8(catalog: Catalog) -> None:
    model, h100 = catalog.model("Llama-3.3-70B-Instruct"), catalog.gpu("h100")
    assert not assess(model, h100).fits
    # bf16 on two H100 leaves ~1.5 GiB of KV at 0.9 (NCCL and the symmetric-memory all-reduce take ~2 GiB
    # per GPU since vLLM 0.11): one 8K request fits, two do not; a 16K request needs fp8 weights.
    two = assess(model, h100, gpus=2)
    assert two.fits and two.tensor_parallel == 2 and two.quantization is None and 1 <= two.max_concurrency < 2
    long = assess(model, h100, gpus=2, context=16384)
    assert long.fits and long.quantization == "fp8"
    four = assess(model, h100, gpus=4)
    assert four.fits and four.quantization is None


def test_context_longer_than_the_model_is_rejected(catalog: Catalog) -> None:
    r = assess(catalog.model("Falcon-7B"), catalog.gpu("h100"), context=8192)
    assert not r.fits and "2,048" in r.why


def test_gpu_count_that_does_not_divide_the_heads_is_a_reason_not_an_error(catalog: Catalog) -> None:
    r = assess(catalog.model("Llama-3.1-8B"), catalog.gpu("h100"), gpus=3)
    assert not r.fits and "divide" in r.why


def test_engine_that_cannot_serve_the_model(catalog: Catalog) -> None:
    t5 = catalog.model("Flan-T5-XL")
    assert not assess(t5, catalog.gpu("l4")).fits  # vLLM does not serve T5
    assert assess(t5, catalog.gpu("l4"), engine="tgi").fits


def test_recommendations_put_the_largest_fitting_model_first(catalog: Catalog) -> None:
    found = recommend(catalog.models, catalog.gpu("l4"))
    assert found and all(r.fits for r in found)
    params = [r.model.total_params for r in found]
    assert params == sorted(params, reverse=True)
    names = {r.model.name for r in found}
    assert "Llama-3.1-8B" in names and "Llama-3.3-70B-Instruct" not in names


def test_t4_gets_only_small_models(catalog: Catalog) -> None:
    found = recommend(catalog.models, catalog.gpu("t4"))
    names = {r.model.name for r in found}
    assert "Qwen2.5-1.5B-Instruct" in names
    assert "Llama-3.1-8B" not in names  # 14.96 GiB of fp16 weights on 14.75 GiB, and no fp8 on Turing
    assert all(r.quantization is None for r in found)


def test_rejected_models_follow_with_reasons(catalog: Catalog) -> None:
    found = recommend(catalog.models, catalog.gpu("l4"), include_rejected=True)
    assert len(found) == len(catalog.models)
    first_rejected = next(i for i, r in enumerate(found) if not r.fits)
    assert all(not r.fits and r.why for r in found[first_rejected:])


def test_json_form_carries_license_and_why(catalog: Catalog) -> None:
    data = assess(catalog.model("Qwen2.5-3B-Instruct"), catalog.gpu("l4")).to_json_dict()
    assert data["fits"] is True
    assert data["commercial_use"] is False and "qwen-research" in data["license"]
    for key in (
        "model",
        "hf_id",
        "params_b",
        "tensor_parallel",
        "max_concurrency",
        "kv_tokens",
        "why",
        "engines",
    ):
        assert key in data


def test_a_mig_slice_is_planned_as_a_small_gpu(catalog: Catalog) -> None:
    a100 = catalog.gpu("a100-80gb")
    small = assess(catalog.model("Llama-3.2-1B"), a100, mig_profile="1g.10gb")
    assert small.fits and small.gpu == "A100-80GB MIG 1g.10gb"
    big = assess(catalog.model("Llama-3.1-8B"), a100, mig_profile="1g.10gb")
    assert not big.fits and "9.8 GiB" in big.why  # 14.96 GiB of weights against the 9.75 GiB slice
    assert assess(catalog.model("Llama-3.1-8B"), a100, mig_profile="3g.40gb").fits


def test_unknown_mig_profile_names_the_ones_that_exist(catalog: Catalog) -> None:
    with pytest.raises(PlanError, match=r"3g\.40gb"):
        assess(catalog.model("Llama-3.2-1B"), catalog.gpu("h100"), mig_profile="9g.99gb")
    with pytest.raises(PlanError, match="no MIG"):
        assess(catalog.model("Llama-3.2-1B"), catalog.gpu("l4"), mig_profile="1g.10gb")
    with pytest.raises(PlanError, match="tensor parallelism"):
        assess(catalog.model("Llama-3.2-1B"), catalog.gpu("h100"), gpus=2, mig_profile="3g.40gb")
