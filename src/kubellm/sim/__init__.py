"""Engine simulator: a vLLM-like continuous-batching engine on a planned GPU, in real or virtual time.

``kubellm sim`` serves vLLM's OpenAI API (:mod:`kubellm.sim.server`) over a scheduler
(:mod:`kubellm.sim.scheduler`) whose KV pool and limits come from the plan and whose step time comes
from the planner's performance model. :func:`kubellm.sim.virtual.replay` runs arrival traces
through the same core without sleeping.
"""

from kubellm.sim.config import SimConfig, config_from_plan, service_from_flags
from kubellm.sim.core import SimCore
from kubellm.sim.timing import LinearStepTimer, StepTimer
from kubellm.sim.trace import TraceRequest, load_trace, poisson_trace
from kubellm.sim.virtual import VirtualReport, replay

__all__ = [
    "LinearStepTimer",
    "SimConfig",
    "SimCore",
    "StepTimer",
    "TraceRequest",
    "VirtualReport",
    "config_from_plan",
    "load_trace",
    "poisson_trace",
    "replay",
    "service_from_flags",
]
