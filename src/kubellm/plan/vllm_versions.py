"""Which vLLM release's memory accounting a plan follows, and how the releases differ.

Every rule below was read in vLLM's source at the tagged release (docs/planner.md cites file and line):
the default ``gpu_memory_utilization``, whether the estimated CUDA-graph memory is taken out of the KV
budget, how "GPU KV cache size" is reported, when the hybrid KV allocator (sliding-window and Mamba
groups) exists, the sampler's profiled peak per logit, whether symmetric-memory all-reduce is on (it raises non-torch memory at TP > 1), and
whether unified-memory GPUs are measured through the host's available memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubellm.errors import UsageError

# The release render pins (vllm/vllm-openai:v0.11.0); render's image tag is built from this constant.
PINNED_VLLM_VERSION = "0.11.0"
# The newest release whose source was read; later versions follow its rules (said in the plan).
NEWEST_READ = (0, 21, 0)
OLDEST_V1 = (0, 8, 0)

Version = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class VllmAccounting:
    """The memory rules of one vLLM release line."""

    version: Version
    generation: str  # "v1" (the V1 engine, default since 0.8) or "v0"
    default_memory_utilization: float
    graphs_in_budget: bool  # the estimated CUDA-graph memory is subtracted from the KV budget
    token_report: str  # "blocks" | "groups" | "concurrency": how "GPU KV cache size" is computed
    hybrid_allocator: bool  # sliding-window / Mamba layers get their own KV-cache groups
    sampler_bytes_per_logit: float  # profiled sampler peak per (row × vocabulary entry)
    heavy_sampler_above: (
        int  # above this many rows the sampler peak is ~38 B per logit (all rows before 0.11)
    )
    symm_mem_allreduce: bool  # torch symmetric-memory all-reduce by default (NCCL buffers at TP > 1)
    uma_host_available: bool  # unified-memory GPUs measured through psutil's available host memory

    @property
    def label(self) -> str:
        text = ".".join(str(p) for p in self.version)
        if self.version > NEWEST_READ:
            newest = ".".join(str(p) for p in NEWEST_READ)
            return f"{text} (accounting of {newest}, the newest release read)"
        return text


def parse_version(text: str) -> Version:
    """'0.11.2', 'v0.14.1', '0.29.1rc1.dev17+g…' → (0, 11, 2)…; a tag such as 'vllm/vllm-openai:v0.11.0' works too."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text.rsplit(":", 1)[-1])
    if not match:
        raise UsageError(
            f"vLLM version {text!r} is not a version number", "give one such as 0.11.0 or v0.14.1"
        )
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return major, minor, patch


def version_from_image(image: str | None) -> str | None:
    """The release a pinned vllm/vllm-openai image tag names, if it names one."""
    if not image or "vllm" not in image or "@sha256:" in image:
        return None
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    return tag.lstrip("v") if re.fullmatch(r"v?\d+\.\d+(\.\d+)?\S*", tag) else None


def accounting_for(version: str | Version | None = None) -> VllmAccounting:
    """The accounting rules of a vLLM release (default: the release render pins)."""
    v = parse_version(version or PINNED_VLLM_VERSION) if not isinstance(version, tuple) else version
    return VllmAccounting(
        version=v,
        generation="v1" if v >= OLDEST_V1 else "v0",
        # vllm/config/cache.py: Field(default=0.9) through 0.19.x, Field(default=0.92) from 0.20.0.
        default_memory_utilization=0.92 if v >= (0, 20, 0) else 0.9,
        # vllm/envs.py VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS: "0" in 0.18/0.19, "1" from 0.20.0.
        graphs_in_budget=v >= (0, 20, 0),
        # vllm/v1/core/kv_cache_utils.py: num_blocks*block_size (≤0.9), num_blocks//groups*min_block_size
        # (0.9.2–0.20), int(max_concurrency*max_model_len) (0.21).
        token_report="concurrency" if v >= (0, 21, 0) else ("groups" if v >= (0, 9, 2) else "blocks"),
        hybrid_allocator=v >= (0, 9, 2),
        # The dummy sampler run's peak per logit: 14.8 B fitted on the 0.19 logs of the tune half (0.11
        # logs agree); before 0.11 three of four research logs show ~38 B (llm-d's 2025 H100 table at 1,024
        # rows, vllm PR 21489 on B200, research point #10 at 256 rows) — the PyTorch sort path.
        sampler_bytes_per_logit=14.8,
        heavy_sampler_above=0 if v < (0, 11, 0) else 1 << 30,
        # vllm/envs.py VLLM_ALLREDUCE_USE_SYMM_MEM: absent in 0.10.1.1, default "1" from 0.11.0.
        symm_mem_allreduce=v >= (0, 11, 0),
        # vllm/utils/mem_utils.py MemorySnapshot.measure: psutil.virtual_memory().available on UMA from 0.11.2.
        uma_host_available=v >= (0, 11, 2),
    )
