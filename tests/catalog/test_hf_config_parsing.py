"""config.json → ModelArch: the spellings and traps of real configs (research/planner.md §7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubellm.catalog import arch_from_config, load_config_file
from kubellm.errors import CatalogError

LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
}  # fmt: skip


def test_llama_parameter_count_is_exact() -> None:
    arch = arch_from_config(LLAMA, "llama")
    assert arch.total_params == 8_030_261_248
    assert arch.kv_bytes_per_token() == 131_072


def test_nested_text_config_is_used() -> None:
    cfg = {"architectures": ["Gemma3ForConditionalGeneration"], "text_config": {**{k: v for k, v in LLAMA.items() if k != "architectures"}, "sliding_window": 1024,
           "sliding_window_pattern": 6, "model_type": "gemma3_text"}, "vision_config": {"hidden_size": 1152}}  # fmt: skip
    arch = arch_from_config(cfg, "gemma")
    assert arch.hidden_size == 4096
    assert arch.architecture == "Gemma3ForConditionalGeneration"
    assert arch.num_sliding_layers == 32 - 32 // 6


def test_falcon_multi_query_ignores_num_kv_heads() -> None:
    cfg = {"model_type": "falcon", "num_hidden_layers": 32, "hidden_size": 4544, "num_attention_heads": 71,
           "num_kv_heads": 71, "multi_query": True, "vocab_size": 65024}  # fmt: skip
    assert arch_from_config(cfg, "falcon").num_kv_heads == 1


def test_moe_counts_active_parameters() -> None:
    cfg = {**LLAMA, "num_local_experts": 8, "num_experts_per_tok": 2}
    arch = arch_from_config(cfg, "mixtral")
    assert arch.is_moe
    assert arch.active_params < arch.total_params / 3


def test_mla_bytes_per_token_uses_the_latent() -> None:
    cfg = {**LLAMA, "num_hidden_layers": 61, "num_attention_heads": 128, "num_key_value_heads": 128, "kv_lora_rank": 512,
           "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128, "q_lora_rank": 1536}  # fmt: skip
    arch = arch_from_config(cfg, "deepseek")
    assert arch.attention_kind == "MLA"
    assert arch.kv_bytes_per_token(tp=8) == 61 * 576 * 2  # replicated, not divided by TP


def test_qwen_sliding_window_off_when_use_sliding_window_false() -> None:
    cfg = {**LLAMA, "sliding_window": 131072, "use_sliding_window": False}
    assert arch_from_config(cfg, "qwen").num_sliding_layers == 0


def test_quantization_config_is_read() -> None:
    cfg = {**LLAMA, "quantization_config": {"quant_method": "awq", "bits": 4}}
    arch = arch_from_config(cfg, "awq")
    assert arch.quantization == "awq"
    assert arch.weights_bytes_for("float16", None) < arch.total_params * 0.75  # 4-bit body, 16-bit embeddings


def test_missing_field_is_named() -> None:
    cfg = {k: v for k, v in LLAMA.items() if k != "num_hidden_layers"}
    with pytest.raises(CatalogError, match="num_hidden_layers"):
        arch_from_config(cfg, "broken")


def test_malformed_json_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_config_file(path)


def test_config_file_named_after_its_directory(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA))
    assert load_config_file(folder / "config.json").name == "my-model"
