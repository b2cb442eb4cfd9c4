"""Facts rules share: image references, probe budgets, /dev/shm, where an engine caches its model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubellm.lint.quantity import gib
from kubellm.lint.workload import ContainerView, PodView, as_dict

TOKEN_ENV_NAMES = frozenset(
    {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_TOKEN", "HF_API_TOKEN"}
)
# Engines whose multi-GPU and multi-node ranks talk over NCCL (shared memory within a node, sockets or
# RDMA across nodes). llama.cpp splits layers over GPUs of one process and reaches other nodes by RPC.
NCCL_ENGINES = frozenset(
    {"vllm", "sglang", "tgi", "triton", "trtllm", "kserve-hf", "ray-serve-llm", "nim", "lmdeploy"}
)
# Words that name a moving tag ('latest', 'latest-nightly', 'main', 'nightly-cu128', 'stable'…).
MOVING_TAG_WORDS = frozenset(
    {
        "latest",
        "nightly",
        "main",
        "master",
        "dev",
        "develop",
        "edge",
        "stable",
        "head",
        "canary",
        "rolling",
        "trunk",
        "unstable",
    }
)
PLACEHOLDER_TAGS = frozenset({"replace", "placeholder", "changeme", "tbd", "todo"})
_BUILD_ID = re.compile(r"\d{6,}|(?=[0-9a-f]*\d)[0-9a-f]{7,40}")  # a date or a commit: a fixed build
_VERSION_TAG = re.compile(r"v?\d+(?:\.\d+)*")  # '1.36', 'v0.10.1': a release, the common case
_TAG_WORDS = re.compile(r"[-_.+]")


def is_moving_tag(tag: str) -> bool:
    """Whether a tag follows a branch rather than naming a build: 'latest', 'latest-nightly', 'main',
    'server-cuda' (no version at all); 'nightly-20250801' or 'main-3f2a9c1' name one build."""
    lowered = tag.lower()
    if _VERSION_TAG.fullmatch(lowered):
        return False
    words = set(_TAG_WORDS.split(lowered))
    if "latest" in words:
        return True
    if words & MOVING_TAG_WORDS:
        return _BUILD_ID.search(lowered) is None
    return not any(ch.isdigit() for ch in lowered)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image reference split into repository, tag and digest."""

    repository: str
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> bool:
        return self.digest is not None or (self.tag is not None and not is_moving_tag(self.tag))

    @property
    def placeholder(self) -> bool:
        """A template placeholder that a tool replaces before apply ('<image>', '${VERSION}', 'x:replace',
        'IMAGE_NAME': a bare upper-case word, which no registry accepts as a repository name)."""
        text = f"{self.repository}:{self.tag or ''}"
        if (
            any(mark in text for mark in ("<", "${", "{{", "$("))
            or (self.tag or "").lower() in PLACEHOLDER_TAGS
        ):
            return True
        return "/" not in self.repository and self.repository.isupper()


def parse_image(image: str) -> ImageRef:
    rest, _, digest = image.partition("@")
    last = rest.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    repo = rest[: len(rest) - len(last)] + last.split(":", 1)[0]
    return ImageRef(repo, tag or None, digest or None)


RDMA_ENV_PREFIXES = ("NCCL_IB_", "UCX_IB", "NVSHMEM_IB")


def rdma_devices(c: ContainerView) -> list[str]:
    """RDMA resources the container requests (`rdma/ib`, `rdma/roce_gdr`, a cloud's RDMA device)."""
    return [str(r) for r in c.limits if "rdma" in str(r).lower() or str(r).startswith("nvidia.com/hostdev")]


def rdma_env(c: ContainerView) -> list[str]:
    """NCCL/UCX InfiniBand settings, unless NCCL_IB_DISABLE=1 turns InfiniBand off."""
    if c.env.get("NCCL_IB_DISABLE") == "1":
        return []
    return [k for k in c.env if k.startswith(RDMA_ENV_PREFIXES)]


def rdma_set_up(c: ContainerView) -> bool:
    return bool(rdma_devices(c) or rdma_env(c))


def probe_budget_s(probe: dict[str, Any]) -> int:
    """Seconds a probe lets a container start before it fails: initialDelay + failureThreshold × period."""

    def num(key: str, default: int) -> int:
        value = probe.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    return num("initialDelaySeconds", 0) + num("failureThreshold", 3) * num("periodSeconds", 10)


def probe_kind(probe: dict[str, Any]) -> str:
    for kind in ("httpGet", "tcpSocket", "grpc", "exec"):
        if kind in probe:
            return kind
    return "none"


def probe_path(probe: dict[str, Any]) -> str | None:
    http = probe.get("httpGet")
    return str(as_dict(http).get("path") or "/") if isinstance(http, dict) else None


def shm_volume(pod: PodView, container: ContainerView) -> tuple[dict[str, Any] | None, int | None]:
    """The memory-backed volume mounted at /dev/shm in this container (and its index), if any."""
    mount = container.mount_at("/dev/shm")
    if mount is None:
        return None, None
    name = str(mount.get("name") or "")
    volume = pod.volume(name)
    empty_dir = as_dict(volume.get("emptyDir")) if volume else {}
    if volume and empty_dir.get("medium") == "Memory":
        return volume, pod.volume_index(name)
    return None, None


def shm_memory_limit_gib(pod: PodView, index: int) -> float | None:
    """The memory limit that bounds the /dev/shm volume at ``index``: tmpfs pages are charged to the
    container that writes them, so the sum of the limits of the containers that mount it (None when one of
    them has no limit). A sidecar without a limit that does not mount /dev/shm cannot fill it."""
    total = 0.0
    writers = [c for c in pod.containers if shm_volume(pod, c)[1] == index]
    for c in writers:
        limit = gib(c.limits.get("memory"))
        if limit is None:
            return None
        total += limit
    return total if writers else None


def home_dir(pod: PodView, container: ContainerView) -> str:
    if container.env.get("HOME"):
        return container.env["HOME"].rstrip("/") or "/"
    uid = as_dict(container.security).get(
        "runAsUser", as_dict(pod.spec.get("securityContext")).get("runAsUser")
    )
    return "/root" if uid in (None, 0) else "/"


def model_cache_dir(pod: PodView, container: ContainerView) -> str | None:
    """Directory the engine downloads weights into, following each engine's precedence of settings."""
    engine = container.engine
    if engine is None:
        return None
    env = container.env
    if engine.engine == "ollama":
        return env.get("OLLAMA_MODELS") or f"{home_dir(pod, container).rstrip('/')}/.ollama/models"
    if engine.download_dir:
        return engine.download_dir
    if engine.engine == "tgi":
        return env.get("HUGGINGFACE_HUB_CACHE") or env.get("HF_HUB_CACHE") or "/data"
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        if env.get(key):
            return env[key]
    if env.get("HF_HOME"):
        return env["HF_HOME"].rstrip("/") + "/hub"
    if env.get("XDG_CACHE_HOME"):
        return env["XDG_CACHE_HOME"].rstrip("/") + "/huggingface/hub"
    return f"{home_dir(pod, container).rstrip('/')}/.cache/huggingface/hub"


def downloads_model(container: ContainerView) -> bool:
    """Whether the engine fetches weights at start (a hub id or pull), not a local path or URI mount."""
    engine = container.engine
    if engine is None or (engine.device == "cpu" and engine.engine != "vllm"):
        return False
    if engine.engine == "ollama":
        return True
    if container.env.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False  # the engine reads the Hub cache only (prefetched weights)
    model = engine.model
    if not model or "$" in model:
        return False
    if model.startswith(("/", "./", "pvc://", "s3://", "gs://", "file://")):
        return False
    return "/" in model or model.startswith("hf://")


def is_llm_pod(pod: PodView) -> bool:
    return bool(pod.engines)
