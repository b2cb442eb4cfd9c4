"""Rule modules; importing this package registers every rule."""

from kubellm.lint.rules import (  # noqa: F401
    fit,
    gpu_engine,
    gpu_placement,
    gpu_resources,
    gpu_storage,
    meta,
    network,
    reliability,
    scaling,
    security,
    storage_binding,
)
