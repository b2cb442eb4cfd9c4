"""NVIDIA NIM for LLMs: an image per model (`nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3`), set up by
environment (NIM_MAX_MODEL_LEN, NIM_TENSOR_PARALLEL_SIZE, NIM_CACHE_PATH…) as the NIM engine table
(``kubellm.engines.NIM``) lists; it picks an engine profile for the GPU it finds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import NIM
from kubellm.lint.engines.base import EngineConfig, from_table

NIM_REGISTRY = "nvcr.io/nim/"
DEFAULT_CACHE = "/opt/nim/.cache"


def is_nim_image(image: str) -> bool:
    return image.lower().startswith(NIM_REGISTRY)


def model_from_image(image: str) -> str | None:
    """'nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3' → 'meta/llama-3.1-8b-instruct'."""
    if not is_nim_image(image):
        return None
    path = image[len(NIM_REGISTRY) :].split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path = path[: len(path) - len(last)] + last.split(":", 1)[0]
    return path or None


def parse(image: str, argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    config = from_table("nim", NIM, argv, env)
    config.model = config.model or model_from_image(image)
    config.download_dir = config.download_dir or DEFAULT_CACHE
    config.sizes_context = config.max_model_len is None  # NIM's profile sets a context that fits
    return config
