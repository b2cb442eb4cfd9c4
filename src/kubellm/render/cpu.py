"""Plans for the services render can place but the planner has no device for.

- llama.cpp runs GGUF conversions of any decoder-only model, though catalog rows list only the
  GPU engines: render widens the row for llama.cpp when its adapter can serve the model.
- ``gpu.type: cpu`` (llama.cpp only) plans against a CPU node: host memory stands in for GPU
  memory, and the pod asks for no GPU.
"""

from __future__ import annotations

import dataclasses
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
    """plan(spec), with llama.cpp's wider model support and CPU nodes."""
    engine = spec.engine.name.value
    if engine == "llamacpp" and engine not in model.engines and not model.encoder_decoder:
        model = dataclasses.replace(model, engines=(*model.engines, "llamacpp"))
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
