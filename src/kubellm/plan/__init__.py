"""Pure planning functions: memory, parallelism, KV capacity, performance, cost, resources.

``plan(spec) -> Plan`` is the entry point; every decision in the result carries its reason.
"""

import sys
import types
from typing import Any

from kubellm.plan.layout import valid_tps
from kubellm.plan.performance import PerformanceModel
from kubellm.plan.planner import plan
from kubellm.plan.result import Decision, Plan

__all__ = ["Decision", "PerformanceModel", "Plan", "plan", "valid_tps"]


class _CallableModule(types.ModuleType):
    """`from kubellm import plan` finds this package once it is imported (Python binds submodules to
    their parent); calling it plans, so the public API `plan(spec)` works either way."""

    def __call__(self, *args: Any, **kwargs: Any) -> Plan:
        return plan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
