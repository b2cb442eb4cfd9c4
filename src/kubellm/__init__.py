"""kubellm: plan, render, lint, serve, load-test and diagnose self-hosted LLMs on Kubernetes.

The public Python API::

    from kubellm import load_spec, plan
    service = load_spec("examples/llama-3.1-8b-l4.yaml")
    p = plan(service)
    print(p.fits, p.memory.kv_cache_gib, p.engine_args)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubellm.errors import KubellmError

__version__ = "0.1.0"
# The one image kubellm ships (gateway, bench Jobs, the operator): built and signed by .github/workflows/release.yml.
IMAGE_REPOSITORY = "ghcr.io/kubellm/kubellm"
RELEASE_IMAGE = f"{IMAGE_REPOSITORY}:{__version__}"
__all__ = ["IMAGE_REPOSITORY", "RELEASE_IMAGE", "KubellmError", "__version__", "load_spec", "plan"]

if TYPE_CHECKING:
    from kubellm.planning import plan
    from kubellm.spec import load_spec


_LAZY = {"load_spec": "kubellm.spec", "plan": "kubellm.planning"}


def __getattr__(name: str) -> Any:
    # Lazy so that `import kubellm` (and `kubellm --help`) stays fast, and so that importing the
    # package root from a low layer (bench, gateway) does not drag the planner in.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kubellm' has no attribute {name!r}")
