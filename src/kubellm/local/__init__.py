"""`kubellm up`: the spec as local processes — engine replicas (vLLM, llama.cpp or the simulator) behind
the gateway, health-gated, logged per process, stopped as one.

Modules: ``environment`` (what this machine can run), ``engines`` (which engine and why), ``commands``
(command lines and the gateway config), ``processes`` (start and stop children), ``health`` (wait for
them), ``ports``, ``hints`` (curl and openai snippets), ``runner`` (the stack), ``bench`` (up --bench).
"""

from kubellm.local.engines import EngineChoice, LocalEngine, choose_engine
from kubellm.local.environment import Environment, probe_environment
from kubellm.local.runner import LocalStack, ProcessDiedError, StackInfo, UpOptions

__all__ = [
    "EngineChoice",
    "Environment",
    "LocalEngine",
    "LocalStack",
    "ProcessDiedError",
    "StackInfo",
    "UpOptions",
    "choose_engine",
    "probe_environment",
]
