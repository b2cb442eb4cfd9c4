"""The served model name: the one name clients send, the same on a cluster, in ``kubellm up`` and in the sim."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # lint imports the engine tables without loading pydantic
    from kubellm.spec import LLMService


def served_name(spec: LLMService) -> str:
    """``model.served_name`` when set; else for an ``hf://`` source its repository ``org/name`` (a GGUF file
    path after it left out); else for a local GGUF file its stem; else the id in ``model.source``."""
    model = spec.model
    if model.served_name:
        return model.served_name
    if model.source.startswith("hf://"):
        return "/".join(model.source_id.split("/")[:2])
    local_gguf = "://" not in model.source and (
        model.source.lower().endswith(".gguf")
        or model.quantization == "gguf"
        or spec.engine.name.value == "llamacpp"
    )
    if local_gguf:
        return PurePath(model.source).stem
    return model.source_id
