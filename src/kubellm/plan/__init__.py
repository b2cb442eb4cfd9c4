"""Pure planning functions: memory, parallelism, KV capacity, performance, cost, resources.

``plan(spec) -> Plan`` is the entry point; every decision in the result carries its reason.
"""

from kubellm.plan.performance import PerformanceModel
from kubellm.plan.planner import plan, valid_tps
from kubellm.plan.result import Decision, Plan

__all__ = ["Decision", "PerformanceModel", "Plan", "plan", "valid_tps"]
