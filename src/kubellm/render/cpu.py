"""CPU plans: ``gpu.type: cpu`` (llama.cpp only) — the planner plans the CPU node itself."""

from __future__ import annotations

from kubellm.catalog import Catalog, ModelArch
from kubellm.planning import plan as make_plan
from kubellm.planning.cpu import CPU_DEVICE, CPU_TYPE, is_cpu
from kubellm.planning.result import Plan
from kubellm.spec import LLMService

__all__ = ["CPU_DEVICE", "CPU_TYPE", "is_cpu", "plan_service"]


def plan_service(spec: LLMService, catalog: Catalog | None = None, model: ModelArch | None = None) -> Plan:
    """plan(spec); for ``gpu.type: cpu`` the plan is for a CPU node with no GPU in the pod."""
    return make_plan(spec, catalog, model=model)
