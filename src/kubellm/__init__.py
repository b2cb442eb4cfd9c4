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


def __getattr__(name: str) -> Any:
    # Lazy so that `import kubellm` (and `kubellm --help`) stays fast.
    if name == "load_spec":
        from kubellm.spec import load_spec

        return load_spec
    if name == "plan":
        from kubellm.plan import plan

        return plan
    raise AttributeError(f"module 'kubellm' has no attribute {name!r}")
