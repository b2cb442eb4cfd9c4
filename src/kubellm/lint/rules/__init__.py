"""Rule modules; importing this package registers every rule."""

from kubellm.lint.rules import (  # noqa: F401
    containers,
    fit,
    gpu_context,
    gpu_engine,
    gpu_labels,
    gpu_placement,
    gpu_resources,
    gpu_storage,
    meta,
    network,
    platforms,
    reliability,
    scaling,
    security,
    storage_binding,
    volumes,
)
