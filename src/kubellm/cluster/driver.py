"""Which NVIDIA driver an engine image needs: image → CUDA version → minimum driver.

Minimum Linux drivers per CUDA release: CUDA Toolkit release notes, table "CUDA Toolkit and
Corresponding Driver Versions" (https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/). CUDA's
minor-version compatibility lets some 12.x programs run on any ≥ 525 driver, but not those that JIT
PTX (PyTorch kernels built for a newer toolkit often do), so a driver below the toolkit's own minimum is
a warning, and an error once the log shows "CUDA driver version is insufficient".
vLLM image CUDA versions: the CUDA_VERSION build argument of vLLM's Dockerfile in each release line.
"""

from __future__ import annotations

import re

MIN_DRIVER_BY_CUDA: dict[tuple[int, int], tuple[int, int]] = {
    (11, 8): (520, 61),
    (12, 0): (525, 60),
    (12, 1): (530, 30),
    (12, 2): (535, 54),
    (12, 3): (545, 23),
    (12, 4): (550, 54),
    (12, 5): (555, 42),
    (12, 6): (560, 28),
    (12, 8): (570, 26),
    (12, 9): (575, 51),
    (13, 0): (580, 65),
}

# (first vLLM minor version of the line, CUDA version of its published image)
_VLLM_CUDA: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((0, 4), (12, 1)),
    ((0, 6), (12, 4)),
    ((0, 9), (12, 8)),
)
_VERSION = re.compile(r":v?(\d+)\.(\d+)")
_CUDA_IN_TAG = re.compile(r"(?:cuda|cu)[-_]?(\d{2})\.?(\d)", re.IGNORECASE)


def image_cuda(image: str) -> tuple[int, int] | None:
    """The CUDA version an engine image was built with, when the tag or the vLLM release says it."""
    tag = image.rsplit("/", 1)[-1]
    explicit = _CUDA_IN_TAG.search(tag)
    if explicit:
        return int(explicit.group(1)), int(explicit.group(2))
    if "vllm-openai" in image:
        match = _VERSION.search(tag)
        if match:
            version = (int(match.group(1)), int(match.group(2)))
            cuda: tuple[int, int] | None = None
            for first, cuda_version in _VLLM_CUDA:
                if version >= first:
                    cuda = cuda_version
            return cuda
    return None


def min_driver(cuda: tuple[int, int]) -> tuple[int, int] | None:
    """The oldest driver (major, minor) that the CUDA release names; None for unknown releases."""
    if cuda in MIN_DRIVER_BY_CUDA:
        return MIN_DRIVER_BY_CUDA[cuda]
    older = [c for c in MIN_DRIVER_BY_CUDA if c <= cuda]
    return MIN_DRIVER_BY_CUDA[max(older)] if older else None


def node_driver(labels: dict[str, str]) -> tuple[int, int] | None:
    """Driver version from GPU feature discovery labels (current names first, then the deprecated ones)."""
    for major_key, minor_key in (
        ("nvidia.com/cuda.driver-version.major", "nvidia.com/cuda.driver-version.minor"),
        ("nvidia.com/cuda.driver.major", "nvidia.com/cuda.driver.minor"),
    ):
        major = labels.get(major_key)
        if major and major.isdigit():
            minor = labels.get(minor_key, "0")
            return int(major), int(minor) if minor.isdigit() else 0
    return None
