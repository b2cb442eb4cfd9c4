"""A CPU node plan (gpu.type: cpu): the pod asks for no GPU and no /dev/shm, and for host memory that holds
the weights, the KV cache and 4 GiB besides; only llama.cpp serves there."""

from __future__ import annotations

import math

import pytest

from kubellm.errors import PlanError
from kubellm.planning import plan
from kubellm.spec import LLMService

# examples/phi-3-mini-llamacpp-cpu.yaml
PHI3_CPU = {
    "metadata": {"name": "phi3-cpu", "namespace": "llm"},
    "model": {
        "source": "hf://microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf",
        "name": "Phi-3-mini-4k",
        "quantization": "gguf",
    },
    "engine": {"name": "llamacpp"},
    "gpu": {"type": "cpu"},
    "serving": {"max_model_len": 4096, "max_num_seqs": 4, "target_concurrency": 4},
}


def test_the_pod_asks_for_host_memory_and_no_gpu() -> None:
    p = plan(LLMService.model_validate(PHI3_CPU))
    r = p.resources
    assert p.gpu == "CPU" and r.gpu_count == 0 and r.gpu_resource == "" and r.shm_gib == 0.0
    # the KV cache takes the host memory's budget, so weights + cache + 4 GiB is above the model's own need
    assert r.memory_gib == math.ceil(p.memory.weights_gib + p.memory.kv_cache_gib + 4)


def test_another_engine_on_a_cpu_node_is_refused_with_the_fix() -> None:
    data = {**PHI3_CPU, "engine": {"name": "vllm"}}
    with pytest.raises(PlanError) as err:
        plan(LLMService.model_validate(data))
    assert "only llama.cpp serves on CPU nodes" in err.value.what
    assert err.value.fix == "set engine.name: llamacpp (with a GGUF file), or pick a GPU type"
