"""Every data contract shared across kubellm packages (pydantic v2, extra fields forbidden).

Modules: ``service`` (the LLMService spec), ``loader`` (YAML in and out, readable errors). Other
packages add their shared contracts here as modules of their own (``gateway`` config, ``bench``
results and metric definitions, ``cluster`` spec).
"""

from kubellm.spec.loader import dump_spec, load_spec, read_yaml, validate_as
from kubellm.spec.service import (
    API_VERSION,
    EngineName,
    GpuSharing,
    LLMService,
)

__all__ = [
    "API_VERSION",
    "EngineName",
    "GpuSharing",
    "LLMService",
    "dump_spec",
    "load_spec",
    "read_yaml",
    "validate_as",
]
