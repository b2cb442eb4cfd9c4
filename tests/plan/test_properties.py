"""Properties of the planner's arithmetic (hypothesis): what must hold for any model, GPU and setting.

KV tokens scale with 1/PP and grow linearly with the memory utilisation; bytes per token grow with
layers, KV heads and the KV dtype; a model that fits a GPU fits every GPU with more memory.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubellm.catalog import default_catalog
from kubellm.planning import memory as mem
from kubellm.planning import plan
from kubellm.planning.kv_layout import BLOCK_SIZE, kv_layout
from kubellm.planning.layout import Layout, memory_fit
from kubellm.planning.vllm_versions import accounting_for
from kubellm.spec import LLMService

CATALOG = default_catalog()
LLAMA_8B = CATALOG.model("llama-3.1-8b")
H100 = CATALOG.gpu("h100")
GQA_MODELS = [m for m in CATALOG.models if not m.is_mla and not m.num_sliding_layers][:20]
ACCT = accounting_for()
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _spec(**gpu: object) -> LLMService:
    return LLMService.model_validate(
        {"metadata": {"name": "p"}, "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
         "gpu": {"type": "H100", **gpu}, "serving": {"max_model_len": 4096}}
    )  # fmt: skip


@FAST
@given(st.sampled_from(GQA_MODELS), st.sampled_from([1, 2, 4, 8]), st.sampled_from([1.0, 2.0, 4.0]))
def test_kv_bytes_per_token_per_gpu_scale_with_one_over_pp(
    model: object, pp: int, dtype_bytes: float
) -> None:
    m = dataclasses.replace(model, num_layers=8 * 3 * model.num_layers)  # type: ignore[type-var, attr-defined]
    whole = kv_layout(m, 1, 1, dtype_bytes, ACCT).bytes_per_token
    assert kv_layout(m, 1, pp, dtype_bytes, ACCT).bytes_per_token * pp == pytest.approx(whole)


@FAST
@given(st.sampled_from(GQA_MODELS), st.integers(1, 200), st.sampled_from([1.0, 2.0, 4.0]))
def test_bytes_per_token_are_linear_in_layers(model: object, layers: int, dtype_bytes: float) -> None:
    one = dataclasses.replace(model, num_layers=1)  # type: ignore[type-var]
    many = dataclasses.replace(model, num_layers=layers)  # type: ignore[type-var]
    assert many.kv_bytes_per_token(1, dtype_bytes) == round(
        layers * one.kv_bytes_per_token_per_layer(1, dtype_bytes)
    )


@FAST
@given(st.integers(1, 64), st.integers(1, 8), st.sampled_from([64, 128, 256]))
def test_bytes_per_token_are_linear_in_kv_heads_and_dtype(kv_heads: int, factor: int, head_dim: int) -> None:
    base = dataclasses.replace(
        LLAMA_8B, num_kv_heads=kv_heads, num_attention_heads=kv_heads * 8, head_dim=head_dim
    )
    more = dataclasses.replace(
        base, num_kv_heads=kv_heads * factor, num_attention_heads=kv_heads * factor * 8
    )
    assert more.kv_bytes_per_token(1, 2.0) == factor * base.kv_bytes_per_token(1, 2.0)
    assert base.kv_bytes_per_token(1, 2.0) == 2 * base.kv_bytes_per_token(1, 1.0)  # fp8 KV halves it
    assert base.kv_bytes_per_token(1, 2.0) == 2 * 2 * kv_heads * head_dim * base.num_layers


@FAST
@given(st.floats(0.3, 0.97), st.floats(0.01, 0.3))
def test_kv_memory_grows_linearly_with_utilisation(util: float, more: float) -> None:
    util_b = min(0.98, util + more)
    layout = Layout(1, 1, "bfloat16", None, "auto", 4096)
    low = memory_fit(LLAMA_8B, H100, _spec(memory_utilization=util), layout, 256, 8192, ACCT)
    high = memory_fit(LLAMA_8B, H100, _spec(memory_utilization=util_b), layout, 256, 8192, ACCT)
    assert high.kv - low.kv == pytest.approx((util_b - util) * H100.memory_gib * mem.GIB, rel=1e-9)
    assert high.blocks >= low.blocks
    if low.kv > 0:
        assert low.blocks == int(low.kv // (low.bytes_per_token * BLOCK_SIZE))


def _spec_fixed_defaults(max_num_seqs: int, max_num_batched_tokens: int) -> LLMService:
    return LLMService.model_validate(
        {"metadata": {"name": "p"}, "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
         "gpu": {"type": "H100", "count": 1},
         "serving": {"max_model_len": 4096, "max_num_seqs": max_num_seqs,
                     "max_num_batched_tokens": max_num_batched_tokens}}
    )  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.floats(8.0, 200.0), st.floats(0.5, 80.0), st.sampled_from([(256, 2048), (1024, 8192)]))
def test_fits_is_monotone_in_gpu_memory_when_the_engine_defaults_are_held(
    memory_gib: float, extra_gib: float, defaults: tuple[int, int]
) -> None:
    """More memory never loses KV tokens while max_num_seqs / max_num_batched_tokens stay the same."""
    spec = _spec_fixed_defaults(*defaults)
    small = plan(spec, gpu=dataclasses.replace(H100, memory_gib=memory_gib))
    large = plan(spec, gpu=dataclasses.replace(H100, memory_gib=memory_gib + extra_gib))
    if small.fits:
        assert large.fits
    assert large.kv_cache.tokens >= small.kv_cache.tokens


def test_crossing_70_gib_raises_the_engine_defaults_and_may_cost_kv_tokens() -> None:
    """vLLM's defaults jump at 70 GiB (1,024 seqs / 8,192 tokens per step instead of 256 / 2,048), so a
    69.9 GiB GPU can hold more KV than a 70 GiB one: the profile step is 4x wider. Real behaviour, not a bug."""
    below = plan(_spec(count=1), gpu=dataclasses.replace(H100, memory_gib=69.9))
    above = plan(_spec(count=1), gpu=dataclasses.replace(H100, memory_gib=70.0))
    assert (below.settings.max_num_seqs, below.settings.max_num_batched_tokens) == (256, 2048)
    assert (above.settings.max_num_seqs, above.settings.max_num_batched_tokens) == (1024, 8192)
    assert below.fits and above.fits
    assert above.memory.activation_gib > below.memory.activation_gib


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 2]))
def test_kv_tokens_per_gpu_scale_with_pp_in_a_plan(nodes: int) -> None:
    spec = LLMService.model_validate(
        {"metadata": {"name": "p"}, "model": {"source": "hf://meta-llama/Llama-3.3-70B-Instruct"},
         "gpu": {"type": "H100", "count": 4 * nodes, "nodes": nodes}, "serving": {"max_model_len": 8192}}
    )  # fmt: skip
    p = plan(spec)
    layers = p.model_arch.num_layers
    per_layer = p.model_arch.kv_bytes_per_token_per_layer(4, 2.0)
    assert p.kv_cache.bytes_per_token == int(per_layer * -(-layers // nodes))
