"""Pure planning functions: memory, parallelism, KV capacity, performance, cost, resources.

``plan(spec) -> Plan`` is the entry point; every decision in the result carries its reason. The package is
``kubellm.planning`` so that ``kubellm.plan`` is that function and nothing else, however it is imported.
"""

from kubellm.planning.layout import valid_tps
from kubellm.planning.performance import PerformanceModel
from kubellm.planning.planner import plan
from kubellm.planning.result import Decision, Plan

__all__ = ["Decision", "PerformanceModel", "Plan", "plan", "valid_tps"]
