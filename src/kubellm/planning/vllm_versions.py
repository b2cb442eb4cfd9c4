"""Which vLLM release's memory accounting a plan follows, and how the releases differ.

Every rule below was read in vLLM's source at the tagged release (docs/planner.md cites file and line):
the default ``gpu_memory_utilization``, whether the estimated CUDA-graph memory is taken out of the KV
budget, how "GPU KV cache size" is reported, when the hybrid KV allocator (sliding-window and Mamba
groups) exists, the sampler's top-k/top-p path, whether CUDA graphs are profiled with the model, how
the batch defaults follow the GPU, whether symmetric-memory all-reduce is on (it raises non-torch memory at TP > 1), and
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
    sampler: (
        str  # top-k/top-p path of the dummy sampler run: "sort" (PyTorch-native) | "flashinfer" | "triton"
    )
    graphs_profiled: bool  # CUDA graphs are captured inside the profiling window (0.18+): non-torch grows
    batch_defaults: str  # how max_num_seqs / max_num_batched_tokens defaults follow the GPU ("name" | "memory" | "memory-not-a100")
    symm_mem_allreduce: bool  # torch symmetric-memory all-reduce by default (NCCL buffers at TP > 1)
    symm_mem_capabilities: tuple[str, ...]  # compute capabilities its communicator supports (else disabled)
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


def default_sampler(v: Version) -> str:
    """The top-k/top-p path of the official image: FlashInfer up to 0.11.0 (installed there and on by default),
    PyTorch's sort from 0.11.1 (FlashInfer became opt-in), the Triton kernel from 0.17."""
    if v >= (0, 17, 0):
        return "triton"
    return "flashinfer" if v <= (0, 11, 0) else "sort"


def accounting_for(
    version: str | Version | None = None, flashinfer_sampler: bool | None = None
) -> VllmAccounting:
    """The accounting rules of a vLLM release (default: the release render pins).

    ``flashinfer_sampler`` says whether FlashInfer's top-k/top-p sampler ran, where a log shows it ("Using
    FlashInfer for top-p & top-k sampling" / "FlashInfer is not available", e.g. a pip install without it);
    unset, the official image's default for the release.
    """
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
        # The dummy sampler run applies top-k and top-p to every row (gpu_model_runner.py:3183-3200@v0.11.0). Up to
        # 0.16 the default path sorts the whole vocabulary in PyTorch (topk_topp_sampler.py:63-110@v0.11.2); FlashInfer
        # replaced it where installed (the official image) up to 0.11.0, and from 0.11.1 only with
        # VLLM_USE_FLASHINFER_SAMPLER=1 (:34-44@v0.11.2). 0.17 added a Triton top-k/top-p kernel (:14-17@v0.17.0).
        sampler=_sampler(v, flashinfer_sampler),
        # profile_cudagraph_memory() runs inside memory_profiling from 0.18 (gpu_worker.py:366-382@v0.19.0).
        graphs_profiled=v >= (0, 18, 0),
        # arg_utils.py: "h100"/"h200" in the device name (:1669@v0.8.4); >= 70 GiB (:1596@v0.8.5); >= 70 GiB and not
        # an A100 (:1495@v0.9.0, get_batch_defaults :2246@v0.21.0).
        batch_defaults="name" if v < (0, 8, 5) else ("memory" if v < (0, 9, 0) else "memory-not-a100"),
        # vllm/envs.py VLLM_ALLREDUCE_USE_SYMM_MEM: absent in 0.10.1.1, default "1" from 0.11.0.
        symm_mem_allreduce=v >= (0, 11, 0),
        symm_mem_capabilities=symm_mem_capabilities(v),
        # vllm/utils/mem_utils.py MemorySnapshot.measure: psutil.virtual_memory().available on UMA from 0.11.2.
        uma_host_available=v >= (0, 11, 2),
    )


# World sizes SYMM_MEM_ALL_REDUCE_MAX_SIZES holds for every capability it names (all_reduce_utils.py:45-58@v0.11.0,
# :52-71@v0.21.0): another TP size leaves the communicator disabled.
SYMM_MEM_WORLD_SIZES = (2, 4, 6, 8)


def symm_mem_capabilities(v: Version) -> tuple[str, ...]:
    """The compute capabilities vLLM's symmetric-memory all-reduce runs on: the keys of SYMM_MEM_ALL_REDUCE_MAX_SIZES.

    SymmMemCommunicator disables itself on any other device ("Device capability 8.0 not supported, communicator is
    not available", symm_mem.py:55-63@v0.11.0, :64-71@v0.21.0): Hopper 9.0 and Blackwell 10.0 from 0.11.0, B300/GB300
    10.3 added in 0.19.0 (all_reduce_utils.py:65-70@v0.19.0). Ampere, Ada, Turing and consumer Blackwell (12.x) never.
    """
    return ("9.0", "10.0", "10.3") if v >= (0, 19, 0) else ("9.0", "10.0")


def _sampler(v: Version, flashinfer: bool | None) -> str:
    path = default_sampler(v)
    if flashinfer is None or path == "triton":
        return path
    return "flashinfer" if flashinfer else "sort"
