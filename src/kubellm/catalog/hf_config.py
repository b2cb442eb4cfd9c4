"""Hugging Face ``config.json`` → ModelArch.

Handles the spellings of the classic families (GPT-J/NeoX ``n_layer``/``n_embd``, Falcon's
``multi_query``, ChatGLM's ``multi_query_group_num``/``kv_channels``, T5's ``d_model``/``d_ff``), nested
``text_config`` (Gemma 3, Llama 4, multimodal wrappers), MoE, MLA, sliding windows and
``quantization_config``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubellm.catalog.hf_layers import layer_structure
from kubellm.catalog.model import ModelArch
from kubellm.errors import CatalogError

# Families whose MLP is up → activation → down (two matrices) rather than gated (three).
_PLAIN_MLP_TYPES = {
    "gptj",
    "gpt_neox",
    "falcon",
    "bloom",
    "gpt_bigcode",
    "starcoder2",
    "gpt2",
    "phi",
    "opt",
    "mpt",
    "nemotron_h",
}
# Families that keep the checkpoint's embeddings tied unless told otherwise.
_TIED_BY_DEFAULT = {
    "falcon",
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3_text",
    "bloom",
    "gpt_bigcode",
    "t5",
    "qwen3",
}


def _pick(cfg: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            return value
    return None


def _require(cfg: dict[str, Any], source: str, *keys: str) -> int:
    value = _pick(cfg, *keys)
    if value is None:
        also = f" (also looked for {', '.join(keys[1:])})" if len(keys) > 1 else ""
        raise CatalogError(
            f"{source}: config.json lacks '{keys[0]}'{also}",
            "give the model's complete config.json from its Hugging Face repository",
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise CatalogError(
            f"{source}: '{keys[0]}' must be a positive integer, got {value!r}", "fix config.json"
        )
    return int(value)


def _merge_text_config(cfg: dict[str, Any]) -> dict[str, Any]:
    for nested in ("text_config", "llm_config", "language_config"):
        inner = cfg.get(nested)
        if isinstance(inner, dict):
            merged = {k: v for k, v in cfg.items() if k != nested}
            merged.update(inner)
            merged.setdefault("architectures", cfg.get("architectures"))
            merged.setdefault("quantization_config", cfg.get("quantization_config"))
            return merged
    return cfg


def _kv_heads(cfg: dict[str, Any], heads: int) -> int:
    model_type = cfg.get("model_type", "")
    if model_type == "falcon" or "RWForCausalLM" in (cfg.get("architectures") or []):
        # Falcon-7B: multi_query=true means one KV head whatever num_kv_heads says; the 40B/180B
        # "new decoder architecture" uses num_kv_heads groups.
        if cfg.get("new_decoder_architecture"):
            return int(_pick(cfg, "num_kv_heads", "n_head_kv") or heads)
        if cfg.get("multi_query", True):
            return 1
        return heads
    if cfg.get("multi_query") is True:
        return 1
    if cfg.get("multi_query_attention") or "multi_query_group_num" in cfg:
        return int(cfg.get("multi_query_group_num") or 1)
    value = _pick(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv")
    return int(value) if value else heads


def _quantization(cfg: dict[str, Any]) -> str | None:
    qc = cfg.get("quantization_config")
    if not isinstance(qc, dict):
        return None
    method = str(qc.get("quant_method", "")).lower()
    if method in ("fp8", "fbgemm_fp8"):
        return "fp8"
    if method in ("awq", "gptq", "mxfp4", "gguf"):
        return method
    if method == "compressed-tensors":
        text = json.dumps(qc).lower()
        if '"float"' in text and '"num_bits": 8' in text:
            return "fp8"
        if '"num_bits": 4' in text:
            return "int4"
        return "int8"
    if method == "bitsandbytes":
        return "int4" if qc.get("load_in_4bit") else "int8"
    return method or None


def arch_from_config(
    config: dict[str, Any], name: str, source: str = "config.json", **facts: Any
) -> ModelArch:
    """Build a ModelArch from a config.json mapping; ``facts`` carry catalog fields (license, aliases…)."""
    if not isinstance(config, dict):
        raise CatalogError(f"{source}: config.json must be a JSON object", "give the model's config.json")
    cfg = _merge_text_config(config)
    model_type = str(cfg.get("model_type", ""))
    encoder_decoder = bool(cfg.get("is_encoder_decoder"))
    layers = _require(cfg, source, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
    if encoder_decoder:
        layers = int(cfg.get("num_decoder_layers") or layers)
    hidden = _require(cfg, source, "hidden_size", "n_embd", "d_model")
    heads = _require(cfg, source, "num_attention_heads", "n_head", "num_heads")
    vocab = _require(cfg, source, "vocab_size", "padded_vocab_size")
    kv_heads = _kv_heads(cfg, heads)
    if kv_heads <= 0 or heads % kv_heads:
        raise CatalogError(
            f"{source}: {kv_heads} key/value heads do not divide {heads} attention heads",
            "check num_key_value_heads in config.json",
        )
    head_dim = int(_pick(cfg, "head_dim", "kv_channels", "d_kv") or hidden // heads)
    intermediate = int(_pick(cfg, "intermediate_size", "ffn_hidden_size", "n_inner", "d_ff") or 4 * hidden)
    max_pos = int(
        _pick(cfg, "max_position_embeddings", "n_positions", "seq_length", "max_sequence_length") or 2048
    )
    structure = layer_structure(cfg, layers, hidden)
    gated = model_type not in _PLAIN_MLP_TYPES
    if encoder_decoder:
        gated = "gated" in str(cfg.get("feed_forward_proj", ""))
    tie = cfg.get("tie_word_embeddings")
    tie = model_type in _TIED_BY_DEFAULT if tie is None else bool(tie)
    experts = int(_pick(cfg, "num_local_experts", "n_routed_experts", "num_experts") or 0)
    shared = _pick(cfg, "n_shared_experts", "num_shared_experts")
    if shared is None and cfg.get("shared_expert_intermediate_size") and cfg.get("moe_intermediate_size"):
        shared = max(1, int(cfg["shared_expert_intermediate_size"]) // int(cfg["moe_intermediate_size"]))
    archs = cfg.get("architectures") or [model_type or "unknown"]
    dtype = str(_pick(cfg, "torch_dtype", "dtype") or "bfloat16")
    if dtype not in ("bfloat16", "float16", "float32"):
        dtype = "bfloat16"
    return ModelArch(
        name=name,
        hf_id=facts.pop("hf_id", name),
        architecture=str(archs[0]),
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        max_position_embeddings=max_pos,
        tie_word_embeddings=tie,
        gated_mlp=gated,
        dtype=dtype,
        quantization=facts.pop("quantization", None) or _quantization(cfg),
        num_experts=experts,
        experts_per_token=int(_pick(cfg, "num_experts_per_tok", "experts_per_token", "moe_topk") or 0)
        if experts
        else 0,
        moe_intermediate_size=int(cfg.get("moe_intermediate_size") or 0),
        num_shared_experts=int(shared or 0),
        first_dense_layers=int(cfg.get("first_k_dense_replace") or 0),
        kv_lora_rank=int(cfg.get("kv_lora_rank") or 0),
        qk_rope_head_dim=int(cfg.get("qk_rope_head_dim") or 0),
        qk_nope_head_dim=int(cfg.get("qk_nope_head_dim") or 0),
        v_head_dim=int(cfg.get("v_head_dim") or 0),
        q_lora_rank=int(cfg.get("q_lora_rank") or 0),
        encoder_decoder=encoder_decoder,
        **structure,
        **facts,
    )


def load_config_file(path: str | Path) -> ModelArch:
    """Read a config.json from disk; the model is named after its directory (or the file stem)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such file", "give the path of the model's config.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(
            f"{path}: not valid JSON ({exc})", "give the model's config.json as downloaded"
        ) from None
    name = p.parent.name if p.name == "config.json" and p.parent.name else p.stem
    return arch_from_config(data, name=name or "custom-model", source=str(path), hf_id=name or "custom-model")
