"""config.json → what each layer caches: full, sliding-window or chunked attention, a Mamba / gated-delta-net
state, or nothing — and the sizes of those states.

Families: the ``layer_types`` list of newer configs (gpt-oss, Gemma 3, Qwen3-Next, Granite 4), Gemma 2/3's
alternating windows, Qwen3-Next's ``full_attention_interval`` and ``linear_*`` gated delta net, Nemotron-H's
``hybrid_override_pattern`` (Mamba 2), Jamba's ``attn_layer_period``/``offset`` (Mamba 1), Granite 4's
``mamba_*`` fields (Mamba 2), Llama 4's chunked local attention, and Mistral-style whole-model windows.
"""

from __future__ import annotations

from typing import Any

_KIND_OF_TYPE = {
    "full_attention": "full",
    "attention": "full",
    "global_attention": "full",
    "sliding_attention": "sliding",
    "sliding_window_attention": "sliding",
    "local_attention": "sliding",
    "chunked_attention": "chunked",
    "linear_attention": "mamba",
    "mamba": "mamba",
    "mamba2": "mamba",
}
# Nemotron-H: M = Mamba 2 mixer, * = attention, - = MLP, E = MoE (vllm nemotron_h.py).
_NEMOTRON_H = {"M": "mamba", "*": "full", "-": "none", "E": "none"}


def _int(cfg: dict[str, Any], *keys: str, default: int = 0) -> int:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return default


def _window(cfg: dict[str, Any]) -> int:
    window = cfg.get("sliding_window")
    if not isinstance(window, int) or window <= 0 or cfg.get("use_sliding_window") is False:
        return 0
    return window


def _kinds(cfg: dict[str, Any], layers: int, model_type: str) -> tuple[str, ...]:
    types = cfg.get("layer_types")
    if isinstance(types, list) and len(types) == layers and all(isinstance(t, str) for t in types):
        return tuple(_KIND_OF_TYPE.get(t, "full") for t in types)
    pattern = cfg.get("hybrid_override_pattern")
    if isinstance(pattern, str) and len(pattern) == layers:
        return tuple(_NEMOTRON_H.get(ch, "none") for ch in pattern)
    interval = cfg.get("full_attention_interval")
    if model_type.startswith("qwen3_next") and isinstance(interval, int) and interval > 0:
        return tuple("full" if (i + 1) % interval == 0 else "mamba" for i in range(layers))
    period = cfg.get("attn_layer_period")
    if model_type == "jamba" and isinstance(period, int) and period > 0:
        offset = _int(cfg, "attn_layer_offset")
        return tuple("full" if i % period == offset else "mamba" for i in range(layers))
    if cfg.get("attention_chunk_size"):
        flags = cfg.get("no_rope_layers")
        if isinstance(flags, list) and len(flags) == layers:  # 1 = RoPE (chunked), 0 = NoPE (global)
            return tuple("chunked" if f else "full" for f in flags)
        every = _int(cfg, "no_rope_layer_interval", default=4)
        return tuple("full" if (i + 1) % every == 0 else "chunked" for i in range(layers))
    window = _window(cfg)
    if not window:
        return ()
    sliding_pattern = cfg.get("sliding_window_pattern")
    if isinstance(sliding_pattern, int) and sliding_pattern > 1:  # Gemma 3: every pattern-th layer is global
        return tuple("full" if (i + 1) % sliding_pattern == 0 else "sliding" for i in range(layers))
    if model_type == "gemma2":  # even layers slide (vllm gemma2.py)
        return tuple("sliding" if i % 2 == 0 else "full" for i in range(layers))
    return ("sliding",) * layers


def _mamba(cfg: dict[str, Any], model_type: str, hidden: int) -> dict[str, Any]:
    if "linear_num_value_heads" in cfg:  # gated delta net (Qwen3-Next)
        return {
            "mamba_kind": "gdn",
            "mamba_heads": _int(cfg, "linear_num_value_heads"),
            "mamba_head_dim": _int(cfg, "linear_value_head_dim"),
            "mamba_state_size": _int(cfg, "linear_key_head_dim"),
            "mamba_groups": _int(cfg, "linear_num_key_heads"),
            "mamba_conv_kernel": _int(cfg, "linear_conv_kernel_dim", default=4),
        }
    heads = _int(cfg, "mamba_num_heads", "mamba_n_heads")
    if heads:  # Mamba 2 (Nemotron-H, Granite 4, Bamba)
        head_dim = _int(cfg, "mamba_head_dim", "mamba_d_head")
        return {
            "mamba_kind": "mamba2",
            "mamba_heads": heads,
            "mamba_head_dim": head_dim,
            "mamba_state_size": _int(cfg, "ssm_state_size", "mamba_d_state", "state_size"),
            "mamba_groups": _int(cfg, "n_groups", "mamba_n_groups", default=1),
            "mamba_inner": heads * head_dim,
            "mamba_conv_kernel": _int(cfg, "conv_kernel", "mamba_d_conv", default=4),
        }
    if model_type == "jamba" or "mamba_d_state" in cfg:  # Mamba 1 (Jamba)
        return {
            "mamba_kind": "mamba1",
            "mamba_state_size": _int(cfg, "mamba_d_state", "state_size", default=16),
            "mamba_inner": _int(cfg, "mamba_expand", default=2) * hidden,
            "mamba_conv_kernel": _int(cfg, "mamba_d_conv", "conv_kernel", default=4),
        }
    return {}


def layer_structure(cfg: dict[str, Any], layers: int, hidden: int) -> dict[str, Any]:
    """ModelArch fields describing the per-layer caches of a (merged) config.json."""
    model_type = str(cfg.get("model_type", ""))
    kinds = _kinds(cfg, layers, model_type)
    out: dict[str, Any] = {
        "sliding_window": _window(cfg) if "sliding" in kinds else 0,
        "num_sliding_layers": sum(1 for k in kinds if k == "sliding"),
        "attention_chunk_size": _int(cfg, "attention_chunk_size") if "chunked" in kinds else 0,
    }
    if kinds and set(kinds) != {"full"}:
        out["layer_kinds"] = kinds
    if isinstance(cfg.get("hybrid_override_pattern"), str):
        out["block_per_layer"] = True
    if model_type == "jamba" and _int(cfg, "expert_layer_period") > 1:
        out["moe_layer_period"] = _int(cfg, "expert_layer_period")
        out["moe_layer_offset"] = _int(cfg, "expert_layer_offset")
    if "mamba" in kinds:
        out.update(_mamba(cfg, model_type, hidden))
        ssm_dtype = cfg.get("mamba_ssm_cache_dtype") or cfg.get("mamba_ssm_dtype")
        if ssm_dtype in ("float32", "fp32") or (not ssm_dtype and model_type == "nemotron_h"):
            out["mamba_ssm_dtype"] = "float32"  # vLLM's NemotronH default (models/config.py)
    return out
