"""CPU plans: ``gpu.type: cpu`` (llama.cpp only) plans against a CPU node.

The planner plans GPUs; for a CPU node render hands it a "device" whose memory is the host memory
the engine may use (weights and KV cache), then takes the GPU out of the pod's resources.
"""

from __future__ import annotations

import math

from kubellm.catalog import Catalog, GpuSpec, ModelArch
from kubellm.errors import UsageError
from kubellm.plan import plan as make_plan
from kubellm.plan.result import Plan
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


def plan_service(spec: LLMService, catalog: Catalog, model: ModelArch) -> Plan:
    """plan(spec), or for ``gpu.type: cpu`` a plan against a CPU node with no GPU in the pod."""
    engine = spec.engine.name.value
    if not is_cpu(spec):
        return make_plan(spec, catalog, model=model)
    if engine != "llamacpp":
        raise UsageError(
            f"gpu.type cpu with engine.name {engine}: only llama.cpp serves on CPU nodes",
            "set engine.name: llamacpp (with a GGUF file), or pick a GPU type",
        )
    plan = make_plan(spec, catalog, model=model, gpu=CPU_DEVICE)
    r = plan.resources
    memory = max(r.memory_gib, math.ceil(plan.memory.weights_gib + plan.memory.kv_cache_gib + 4))
    resources = r.model_copy(
        update={"gpu_count": 0, "gpu_resource": "", "memory_gib": memory, "shm_gib": 0.0}
    )
    return plan.model_copy(update={"resources": resources, "gpu": CPU_DEVICE.name})
