"""Data files of models and GPUs; Hugging Face config.json → ModelArch; lookup by name or alias."""

from kubellm.catalog.gpu import GpuSpec, MigProfile
from kubellm.catalog.hf_config import arch_from_config, load_config_file
from kubellm.catalog.lookup import Catalog, default_catalog, normalize, resolve_model
from kubellm.catalog.model import ModelArch

__all__ = [
    "Catalog",
    "GpuSpec",
    "MigProfile",
    "ModelArch",
    "arch_from_config",
    "default_catalog",
    "load_config_file",
    "normalize",
    "resolve_model",
]
