"""CPU nodes: ``gpu.type: cpu`` plans llama.cpp against a node's host memory instead of a GPU.

The planner's arithmetic holds with a "device" whose memory is the host memory the engine may use
(weights and KV cache) and whose speed is a CPU's; the pod then asks for no GPU and enough host
memory for weights plus KV cache.
"""

from __future__ import annotations

import math

from kubellm.catalog import GpuSpec
from kubellm.errors import PlanError
from kubellm.planning.result import Plan
from kubellm.spec import LLMService

CPU_TYPE = "cpu"
# A CPU node as the planner's "device": host memory the engine may use, DDR5 bandwidth, AVX-512 rates.
CPU_DEVICE = GpuSpec(
    name="CPU",
    memory_gib=32.0,
    memory_gb_nominal=34.0,
    bandwidth_tbs=0.2,
    bf16_tflops=None,
    fp16_tflops=4.0,
    fp8_tflops=None,
    int8_tops=None,
    compute_capability="0.0",
    architecture="x86-64 CPU node",
    notes="a CPU node for llama.cpp: 32 GiB of host memory for weights and KV cache",
)


def is_cpu(spec: LLMService) -> bool:
    return spec.gpu.type.strip().lower() == CPU_TYPE


def check_cpu_engine(spec: LLMService) -> None:
    engine = spec.engine.name.value
    if engine != "llamacpp":
        raise PlanError(
            f"gpu.type cpu with engine.name {engine}: only llama.cpp serves on CPU nodes",
            "set engine.name: llamacpp (with a GGUF file), or pick a GPU type",
        )


def on_cpu_node(plan: Plan) -> Plan:
    """The plan with the GPU taken out of the pod and host memory for weights plus KV cache."""
    r = plan.resources
    memory = max(r.memory_gib, math.ceil(plan.memory.weights_gib + plan.memory.kv_cache_gib + 4))
    resources = r.model_copy(
        update={"gpu_count": 0, "gpu_resource": "", "memory_gib": memory, "shm_gib": 0.0}
    )
    return plan.model_copy(update={"resources": resources, "gpu": CPU_DEVICE.name})
