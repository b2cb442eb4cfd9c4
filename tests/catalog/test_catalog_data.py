"""The shipped catalog: every row parses, carries its facts, and matches published figures."""

from __future__ import annotations

import re

import pytest

from kubellm.catalog import Catalog, default_catalog

TASKS = {"chat", "code", "multilingual", "reasoning", "embedding"}
ENGINES = {"vllm", "sglang", "tgi", "trtllm", "llamacpp"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


def test_catalog_has_enough_models_and_gpus(catalog: Catalog) -> None:
    assert len(catalog.models) >= 50
    assert len(catalog.gpus) >= 13


def test_every_model_row_has_the_required_facts(catalog: Catalog) -> None:
    for m in catalog.models:
        assert m.family, m.name
        assert m.license and m.license_note, m.name
        assert isinstance(m.commercial_use, bool), m.name
        assert m.tasks and set(m.tasks) <= TASKS, m.name
        assert m.engines and set(m.engines) <= ENGINES, m.name
        assert m.source_url, m.name
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", m.hf_id), m.name
        assert m.total_params > 100_000_000, m.name
        assert m.kv_bytes_per_token() > 0, m.name


def test_model_names_are_unique(catalog: Catalog) -> None:
    names = [m.name.lower() for m in catalog.models]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "family",
    [
        "Llama", "GPT-J", "GPT-NeoX", "Falcon", "BLOOM", "Dolly", "Vicuna", "StableLM", "Flan-T5", "Mistral",
        "ChatGLM", "StarCoder", "Qwen", "Gemma", "Phi", "Mixtral", "DeepSeek", "gpt-oss",
    ],
)  # fmt: skip
def test_families_the_issue_names_are_present(catalog: Catalog, family: str) -> None:
    assert any(m.family == family for m in catalog.models)


@pytest.mark.parametrize(
    "name",
    [
        "Llama-2-7B", "Llama-2-13B", "Llama-2-70B", "Llama-3.2-1B", "Llama-3.2-3B", "Falcon-40B", "Falcon-180B",
        "BLOOM-176B", "Dolly-v2-12B", "Vicuna-13B-v1.5", "Qwen2.5-0.5B-Instruct", "Qwen2.5-72B-Instruct",
        "Qwen3-30B-A3B", "Gemma-3-1B", "Gemma-3-4B", "Gemma-3-12B", "Phi-4-mini", "Phi-3.5-mini", "Mixtral-8x7B",
        "DeepSeek-V3", "DeepSeek-R1", "gpt-oss-20b", "gpt-oss-120b", "Mistral-Small-24B", "Mistral-Nemo-12B",
    ],
)  # fmt: skip
def test_named_models_are_in_the_catalog(catalog: Catalog, name: str) -> None:
    assert catalog.model(name).name == name


@pytest.mark.parametrize(
    ("name", "kv_bytes"),
    [
        ("Llama-3.1-8B", 131_072),
        ("Falcon-7B", 8_192),  # multi-query: one KV head
        ("DeepSeek-V3", 70_272),  # MLA latent 512 + 64 per layer
        ("DeepSeek-R1", 70_272),
        ("Qwen2.5-7B-Instruct", 57_344),
        ("Llama-3.1-70B", 327_680),
        ("Llama-3.3-70B-Instruct", 327_680),
        ("Llama-2-7B", 524_288),  # MHA
        ("Gemma-2-9B", 344_064),  # head_dim 256 from the config, not hidden/heads
    ],
)
def test_kv_bytes_per_token_of_known_models(catalog: Catalog, name: str, kv_bytes: int) -> None:
    assert catalog.model(name).kv_bytes_per_token() == kv_bytes


def test_attention_kinds(catalog: Catalog) -> None:
    assert catalog.model("Falcon-7B").attention_kind == "MQA"
    assert catalog.model("StarCoder").attention_kind == "MQA"
    assert catalog.model("DeepSeek-V3").attention_kind == "MLA"
    assert catalog.model("Llama-2-13B").attention_kind == "MHA"
    assert catalog.model("Falcon-40B").num_kv_heads == 8  # new decoder architecture: grouped KV heads


@pytest.mark.parametrize(
    ("name", "sliding", "layers"),
    [("Gemma-3-1B", 22, 26), ("Gemma-3-27B", 52, 62), ("Gemma-2-9B", 21, 42), ("gpt-oss-120b", 18, 36)],
)
def test_sliding_window_layers_follow_the_config(
    catalog: Catalog, name: str, sliding: int, layers: int
) -> None:
    model = catalog.model(name)
    assert (model.num_sliding_layers, model.num_layers) == (sliding, layers)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("Llama-3.1-8B", 8_030_261_248),  # published count
        ("Llama-3.2-1B", 1_235_814_400),  # published count
        ("Mistral-7B-v0.3", 7_248_023_552),  # published count
        ("Gemma-3-1B", 999_885_952),  # keras-hub preset (text-only)
    ],
)
def test_parameter_counts_match_published_figures(catalog: Catalog, name: str, params: int) -> None:
    assert catalog.model(name).total_params == params


def test_moe_models_count_active_parameters(catalog: Catalog) -> None:
    v3 = catalog.model("DeepSeek-V3")
    assert 660e9 < v3.total_params < 680e9
    assert 35e9 < v3.active_params < 40e9
    qwen = catalog.model("Qwen3-30B-A3B")
    assert qwen.is_moe and 3e9 < qwen.active_params < 4e9


def test_quantized_checkpoints_keep_their_measured_size(catalog: Catalog) -> None:
    oss = catalog.model("gpt-oss-120b")
    assert oss.quantization == "mxfp4"
    assert oss.weights_bytes_for("bfloat16", None) / 2**30 == pytest.approx(64.38, abs=0.01)
    assert catalog.model("DeepSeek-R1").quantization == "fp8"


def test_encoder_decoders_are_not_offered_to_vllm(catalog: Catalog) -> None:
    t5 = [m for m in catalog.models if m.encoder_decoder]
    assert t5, "the catalog should carry Flan-T5"
    for m in t5:
        assert "vllm" not in m.engines and "sglang" not in m.engines
        assert "tgi" in m.engines


def test_licenses_that_forbid_commercial_use_are_marked(catalog: Catalog) -> None:
    assert catalog.model("Qwen2.5-3B-Instruct").commercial_use is False
    assert catalog.model("Falcon-180B").commercial_use is False
    assert catalog.model("Llama-3.1-8B").commercial_use is True
    assert "700M" in catalog.model("Llama-3.1-8B").license_note


def test_every_alias_resolves_to_its_own_model(catalog: Catalog) -> None:
    for m in catalog.models:
        for name in (m.name, m.hf_id, *m.aliases):
            assert catalog.model(name) is m, f"{name!r} resolves to {catalog.model(name).name}, not {m.name}"


def test_every_gpu_row_is_consistent(catalog: Catalog) -> None:
    for g in catalog.gpus:
        assert re.fullmatch(r"\d+\.\d", g.compute_capability), g.name
        assert 0.85 * g.memory_gb_nominal <= g.memory_gib <= g.memory_gb_nominal, g.name
        assert g.bandwidth_tbs > 0 and g.fp16_tflops > 0, g.name
        assert g.product_labels, g.name
        assert g.supports_bf16 == (g.bf16_tflops is not None), g.name
        if g.fp8_tflops:
            assert g.supports_fp8, g.name
        if g.usd_per_hour is not None:
            assert g.price_basis and g.source, g.name
        for p in g.mig_profiles:
            assert p.memory_gib <= g.memory_gib, (g.name, p.name)
            assert 1 <= p.max_count <= 7, (g.name, p.name)


def test_mig_slices_hold_the_memory_nvidia_smi_lists(catalog: Catalog) -> None:
    h100 = catalog.gpu("h100")
    assert h100.mig_profile("1g.10gb") is not None
    assert h100.mig_profile("1g.10gb").memory_gib == 9.75  # type: ignore[union-attr]
    assert h100.mig_profile("3g.40gb").memory_gib == 39.5  # type: ignore[union-attr]
    assert catalog.gpu("a100-40gb").mig_profile("1g.5gb").memory_gib == 4.75  # type: ignore[union-attr]
    assert not catalog.gpu("l4").mig_profiles  # no MIG on Ada


def test_torch_visible_memory_of_the_common_cards(catalog: Catalog) -> None:
    assert catalog.gpu("h100").memory_gib == 79.19
    assert catalog.gpu("a100-40gb").memory_gib == 39.5
    assert catalog.gpu("t4").memory_gib == 14.75
    assert catalog.gpu("l4").memory_gib == 22.03
    assert catalog.gpu("h200").memory_gib == 139.81


def test_old_gpus_have_no_bf16_or_fp8(catalog: Catalog) -> None:
    t4, v100 = catalog.gpu("t4"), catalog.gpu("v100")
    assert not t4.supports_bf16 and not v100.supports_bf16
    assert not catalog.gpu("a100-80gb").supports_fp8
    assert catalog.gpu("l4").supports_fp8 and catalog.gpu("h100").supports_fp8


# Sizes the model cards publish (billions, rounded as published). A config value typed wrong shows up here:
# one layer, head or MLP width off moves the count by more than the 2 % allowed.
PUBLISHED_B = {
    "Llama-2-7B": 6.74, "Llama-2-13B": 13.0, "Llama-2-70B": 69.0, "CodeLlama-34B": 33.7,
    "Qwen2.5-0.5B-Instruct": 0.49, "Qwen2.5-1.5B-Instruct": 1.54, "Qwen2.5-3B-Instruct": 3.09,
    "Qwen2.5-7B-Instruct": 7.61, "Qwen2.5-14B-Instruct": 14.7, "Qwen2.5-72B-Instruct": 72.7,
    "Qwen3-0.6B": 0.6, "Qwen3-1.7B": 1.7, "Qwen3-4B": 4.0, "Qwen3-8B": 8.2, "Qwen3-14B": 14.8, "Qwen3-32B": 32.8,
    "Qwen3-30B-A3B": 30.5, "Qwen3-235B-A22B": 235.0, "Gemma-2-9B": 9.24, "Gemma-2-27B": 27.2,
    "Phi-3.5-mini": 3.8, "Phi-4-mini": 3.8, "Phi-3-medium-4k": 14.0, "Mistral-Nemo-12B": 12.2,
    "Mistral-Small-24B": 23.6, "Mixtral-8x7B": 46.7, "DeepSeek-V3": 671.0, "gpt-oss-20b": 21.0, "gpt-oss-120b": 117.0,
    "GPT-J-6B": 6.05, "GPT-NeoX-20B": 20.6, "BLOOM-176B": 176.2, "Flan-T5-XL": 2.85, "StarCoder": 15.5,
}  # fmt: skip


@pytest.mark.parametrize(("name", "billions"), sorted(PUBLISHED_B.items()))
def test_config_reproduces_the_published_size(catalog: Catalog, name: str, billions: float) -> None:
    assert catalog.model(name).total_params / 1e9 == pytest.approx(billions, rel=0.02)
