"""Specs that make every planned flag of each rendered engine appear (shared by the engine-table tests)."""

from __future__ import annotations

from typing import Any

from kubellm.spec import LLMService

BASE: dict[str, Any] = {
    "metadata": {"name": "t", "namespace": "llm"},
    "security": {"hf_token_secret": "hf-token"},
}

# One spec per rendered engine, with non-default settings so the plan writes every flag it can.
ENGINE_SPECS: dict[str, dict[str, Any]] = {
    "vllm": {
        "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct", "dtype": "float16", "quantization": "fp8"},
        "gpu": {"type": "H100", "count": 2, "memory_utilization": 0.85},
        "serving": {"max_model_len": 4096, "max_num_seqs": 64, "max_num_batched_tokens": 4096,
                    "kv_cache_dtype": "fp8", "prefix_caching": False, "enforce_eager": True},
    },
    "sglang": {
        "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct", "dtype": "float16", "quantization": "fp8"},
        "engine": {"name": "sglang"},
        "gpu": {"type": "H100", "count": 2, "memory_utilization": 0.85},
        "serving": {"max_model_len": 4096, "max_num_seqs": 64, "max_num_batched_tokens": 4096,
                    "kv_cache_dtype": "fp8", "prefix_caching": False},
    },
    "tgi": {
        "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct", "quantization": "fp8"},
        "engine": {"name": "tgi"},
        "gpu": {"type": "H100", "count": 2, "memory_utilization": 0.85},
        "serving": {"max_model_len": 4096, "max_num_seqs": 64, "max_num_batched_tokens": 8192,
                    "kv_cache_dtype": "fp8", "prefix_caching": False},
    },
    "trtllm": {
        "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct", "quantization": "fp8"},
        "engine": {"name": "trtllm"},
        "gpu": {"type": "H100", "count": 2, "memory_utilization": 0.85},
        "serving": {"max_model_len": 4096, "max_num_seqs": 64, "max_num_batched_tokens": 4096},
        "storage": {"model_cache": "pvc", "access_mode": "ReadWriteMany", "storage_class": "shared-rwx"},
    },
    "llamacpp": {
        "model": {
            "source": "hf://microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf",
            "name": "Phi-3-mini-4k",
            "quantization": "gguf",
        },
        "engine": {"name": "llamacpp"},
        "gpu": {"type": "L4"},
        "serving": {"max_model_len": 4096, "max_num_seqs": 4, "max_num_batched_tokens": 1024,
                    "prefix_caching": False},
    },
}  # fmt: skip


def engine_spec(name: str, **overrides: Any) -> LLMService:
    """The spec of engine ``name`` with some sections' fields overridden."""
    data = {**BASE, **ENGINE_SPECS[name]}
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values}
    return LLMService.model_validate(data)
