"""kubellm: plan, render, lint, serve, load-test and diagnose self-hosted LLMs on Kubernetes.

The public Python API::

    from kubellm import load_spec, plan
    service = load_spec("examples/llama-3.1-8b-l4.yaml")
    p = plan(service)
    print(p.fits, p.memory.kv_cache_gib, p.engine_args)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["KubellmError", "__version__", "load_spec", "plan"]

from kubellm.errors import KubellmError

if TYPE_CHECKING:
    from kubellm.plan import plan
    from kubellm.spec import load_spec


_LAZY = {"load_spec": "kubellm.spec", "plan": "kubellm.plan"}


def __getattr__(name: str) -> Any:
    # Lazy so that `import kubellm` (and `kubellm --help`) stays fast, and so that importing the
    # package root from a low layer (bench, gateway) does not drag the planner in.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kubellm' has no attribute {name!r}")
