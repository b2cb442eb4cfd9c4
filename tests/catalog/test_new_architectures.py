"""New architectures parsed from their config.json, checked against vLLM's cache arithmetic and, where a public
start-up log exists, against the log's own 'GPU KV cache size' (benchmarks/data/vllm_startup_logs.yaml)."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubellm.catalog import default_catalog
from kubellm.catalog.hf_config import arch_from_config
from kubellm.catalog.model import ModelArch
from kubellm.planning import plan
from kubellm.planning.kv_layout import kv_blocks, kv_layout, reported_tokens
from kubellm.planning.vllm_versions import accounting_for
from kubellm.spec import LLMService

CONFIGS = Path(__file__).parent / "configs"
STARTUP_LOGS = Path(__file__).parents[2] / "benchmarks" / "data" / "vllm_startup_logs.yaml"
GIB = 2**30


def config(name: str) -> ModelArch:
    return arch_from_config(json.loads((CONFIGS / name).read_text()), name=name)


@cache
def _startup_points() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(STARTUP_LOGS.read_text(encoding="utf-8"))
    return {p["id"]: p for p in data["points"]}


def startup_point(point_id: str) -> dict[str, Any]:
    """One public start-up log of benchmarks/data/vllm_startup_logs.yaml: its settings and logged figures."""
    return _startup_points()[point_id]


def logged_tokens(model: ModelArch, kv_gib: float, version: str, tp: int = 1, max_len: int = 8192) -> int:
    """The tokens vLLM reports for ``kv_gib`` of KV memory (the log prints the GiB to two decimals)."""
    acct = accounting_for(version)
    lay = kv_layout(model, tp, 1, 2.0, acct)
    return reported_tokens(lay, kv_blocks(kv_gib * GIB, lay), max_len, 8192, acct)


def test_qwen3_next_gated_delta_net_state_and_hybrid_groups() -> None:
    # the published file (a byte copy); no public start-up log of this model with its KV figures was found
    m = config("qwen3-next-80b-a3b.json")
    assert (m.count("full"), m.count("mamba"), m.mamba_kind) == (12, 36, "gdn")
    # conv (kernel−1)·(2·16·128 + 32·128) + ssm 32·128·128, bf16 — MambaStateShapeCalculator.gated_delta_net
    assert m.mamba_state_bytes(1, 2.0) == (3 * 8192 + 32 * 128 * 128) * 2 == 1_097_728
    assert m.mamba_state_bytes(2, 2.0) == (3 * 4096 + 16 * 128 * 128) * 2
    lay = kv_layout(m, 1, 1, 2.0, accounting_for("0.11.0"))
    # attention block grown so one page (block · 2·2·256·2 B) holds a 1,097,728-byte state: 16·⌈33.5⌉ = 544
    assert (lay.block_size, lay.group_size, dict(lay.groups)) == (544, 12, {"full": 1, "mamba": 3})
    assert m.kv_bytes_per_token(1) == 12 * 2 * 2 * 256 * 2


def test_nemotron_h_mamba2_state_is_float32_and_only_four_layers_keep_kv() -> None:
    m = config("nemotron-h-8b.json")
    assert (m.count("full"), m.count("mamba"), m.count("none")) == (4, 24, 24)
    assert m.mamba_ssm_dtype == "float32"  # vLLM's NemotronH default (models/config.py)
    conv = 3 * (128 * 64 + 2 * 8 * 128) * 2
    ssm = 128 * 64 * 128 * 4
    assert m.mamba_state_bytes(1, 2.0) == conv + ssm
    # n_groups 8 divides TP 8; at TP 16 vLLM widens it to 16 (extra_groups_for_head_shards)
    assert m.mamba_state_bytes(16, 2.0) == 3 * ((8192 + 2 * 16 * 128) // 16) * 2 + 8 * 64 * 128 * 4
    assert m.total_params == pytest.approx(8.1e9, rel=0.02)


def test_jamba_mamba1_state_and_attention_every_eighth_layer() -> None:
    m = config("jamba-v0.1.json")
    assert [i for i, k in enumerate(m.kinds) if k == "full"] == [4, 12, 20, 28]
    assert m.mamba_state_bytes(1, 2.0) == (3 * 8192 + 8192 * 16) * 2
    assert m.total_params == pytest.approx(51.6e9, rel=0.03)  # MoE on every other layer only
    assert m.active_params == pytest.approx(12e9, rel=0.05)


def test_kimi_k2_is_mla_with_the_latent_replicated_on_every_rank() -> None:
    m = config("kimi-k2-instruct.json")
    assert m.is_mla and m.quantization == "fp8"
    assert m.kv_bytes_per_token(1) == m.kv_bytes_per_token(8) == 61 * (512 + 64) * 2
    assert m.total_params == pytest.approx(1.03e12, rel=0.03)


def test_kimi_k2_mla_cache_reproduces_a_logged_kv_figure_at_tp8() -> None:
    # vllm-project/recipes, Kimi-K2-Thinking on 8 × H200: 'Available KV cache memory: 46.80 GiB' and 'GPU KV cache
    # size: 715,072 tokens'. K2-Thinking has K2-Instruct's attention (61 layers, 512 + 64 latent), so the K2 config
    # stands in for it. Tolerance 5e-4: the log prints the memory to two decimals (±1.1e-4 of 46.80 GiB) and vLLM's
    # FlashMLA pages hold 64 tokens where the plan counts 16-token blocks (≤ 64 tokens apart, 0.9e-4).
    point = startup_point("vllm-recipes-kimi-k2-thinking-h200-tp8")
    m = config("kimi-k2-instruct.json")
    logged = point["logged"]
    tokens = logged_tokens(m, logged["kv_cache_gib"], point["vllm_version"], tp=point["tp"])
    assert tokens == pytest.approx(logged["kv_tokens"], rel=5e-4)


def _plan_logged_setup(arch: ModelArch, point: dict[str, Any]) -> int:
    """The KV tokens the planner predicts for a logged start-up, weights and all from the config alone."""
    catalog = default_catalog()
    gpu = dataclasses.replace(catalog.gpu(point["gpu"]), memory_gib=point["gpu_total_gib"])
    spec = LLMService.model_validate(
        {
            "metadata": {"name": "validation"},
            "model": {"source": "hf://validation/model", "name": arch.name},
            "gpu": {
                "type": point["gpu"],
                "count": point["tp"],
                "memory_utilization": point["gpu_memory_utilization"],
            },
            "serving": {
                "max_model_len": point["max_model_len"],
                "max_num_seqs": point["max_num_seqs"],
                "max_num_batched_tokens": point["max_num_batched_tokens"],
            },
        }
    )
    return plan(spec, catalog, model=arch, gpu=gpu, vllm_version=point["vllm_version"]).kv_cache.tokens


# Real config.json files (tests/catalog/configs/sources.yaml) planned for the setups of public vLLM 0.19 logs on one
# H100 (llm-d-planner sweep). Tolerance ±3 %: the bar for the median field error; the weights are computed
# from the config, not taken from the log, so this covers parsing, weights and the memory model together.
@pytest.mark.parametrize(
    ("config_file", "point_id"),
    [
        # MLA + MoE (DeepseekV2ForCausalLM): the DeepSeek-V3 / Kimi-K2 cache layout; the log is of the -Chat sibling
        ("deepseek-v2-lite.json", "llmd-deepseek-ai-deepseek-v2--tp1pp1dp1--8192"),
        ("qwen3-30b-a3b.json", "llmd-qwen-qwen3-30b-a3b-tp1pp1dp1--8192"),  # MoE, 128 experts
    ],
)
def test_plan_from_a_real_config_matches_the_logged_kv_tokens(config_file: str, point_id: str) -> None:
    point = startup_point(point_id)
    predicted = _plan_logged_setup(config(config_file), point)
    assert predicted == pytest.approx(point["logged"]["kv_tokens"], rel=0.03)


# Logged figures: llm-d-incubation/llm-d-planner accuracy/results/v0.19.0/logs (vLLM 0.19.0, H100).
@pytest.mark.parametrize(
    ("model", "kv_gib", "tokens", "tp"),
    [
        ("Gemma-2-2B", 66.47, 670_160, 1),  # sliding every other layer, window 4096
        ("Gemma-2-9B", 54.12, 168_880, 1),
        ("Gemma-3-27B", 19.53, 36_560, 1),  # 52 sliding + 10 full: 7 groups of 10 (padded)
        ("gpt-oss-20b", 59.32, 2_591_776, 2),  # 12 sliding (window 128) + 12 full
        ("DeepSeek-V2-Lite", 43.61, 1_505_552, 1),  # MLA: 576 latent values per token per layer
        ("Qwen1.5-MoE-A2.7B", 45.83, 250_304, 1),
        ("Llama-3.1-8B", 58.11, 476_016, 1),
    ],
)
def test_logged_kv_tokens_reproduced_from_the_logged_memory(
    model: str, kv_gib: float, tokens: int, tp: int
) -> None:
    arch = default_catalog().model(model)
    assert logged_tokens(arch, kv_gib, "0.19.0", tp) == pytest.approx(tokens, rel=0.0012)


def test_sliding_window_groups_report_tokens_like_each_release() -> None:
    gemma = default_catalog().model("Gemma-3-27B")
    kv = 19.53 * GIB
    old = kv_layout(gemma, 1, 1, 2.0, accounting_for("0.9.0"))  # no hybrid allocator: all 62 layers full
    assert reported_tokens(old, kv_blocks(kv, old), 8192, 8192, accounting_for("0.9.0")) == pytest.approx(
        kv / (62 * 8192), rel=0.001
    )
    # 0.21 reports concurrency × max_model_len: at 32K the sliding groups need only window + step tokens,
    # so the same memory reports more tokens than 0.19's blocks // groups × block_size
    new = kv_layout(gemma, 1, 1, 2.0, accounting_for("0.21.0"))
    acct = accounting_for("0.21.0")
    blocks = kv_blocks(kv, new)
    assert reported_tokens(new, blocks, 32768, 8192, acct) > reported_tokens(
        new, blocks, 32768, 8192, accounting_for("0.19.0")
    )


def test_gpt_oss_sliding_windows_from_a_published_config_reproduce_a_field_log() -> None:
    # benchmarks/data/vllm_field_logs.yaml field-gb10-gpt-oss-20b-v0130nv (vLLM 0.13.0 on a GB10):
    # 'Available KV cache memory: 12.94 GiB' and 'GPU KV cache size: 282,624 tokens' at max_model_len 8,192
    m = config("gpt-oss-20b.json")
    assert m.count("sliding") == 12 and m.count("full") == 12 and m.sliding_window == 128
    acct = accounting_for("0.13.0")
    lay = kv_layout(m, 1, 1, 2.0, acct)
    assert sorted(kind for kind, _ in lay.groups) == ["full", "sliding"] and lay.group_size == 12
    tokens = reported_tokens(lay, kv_blocks(12.94 * GIB, lay), 8192, 2048, acct)
    assert tokens == pytest.approx(282_624, rel=0.0012)
