"""The engine adapter protocol and the context every adapter is given.

An adapter knows one serving engine: its pinned image, its command line built from the plan, its
environment, ports, probe paths, the Prometheus metric names of its queue, running requests and
KV-cache use, and how much /dev/shm it needs. Everything else about the pod (security, volumes,
placement) is the same for every engine and lives in ``kubellm.render.workload``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.plan.result import Plan

# Safety-relevant flags kubellm plans itself; extra_args must not override them.
Env = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EngineMetrics:
    """PromQL selectors (metric name with label matchers) of an engine's load signals."""

    queue: str
    running: str
    kv_usage: str | None
    kv_usage_scale: float = 1.0  # multiply to get a 0..1 fraction
    path: str = "/metrics"
    port_name: str = "http"


@dataclass(frozen=True, slots=True)
class EngineContext:
    """What an adapter needs to build its container: the plan and where things are in the pod."""

    plan: Plan
    model: ModelArch
    gpu: GpuSpec | None
    model_path: str
    served_name: str
    cache_dir: str
    engines_dir: str = "/models/engines"
    multi_node: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def tp(self) -> int:
        return self.plan.parallelism.tensor_parallel

    @property
    def pp(self) -> int:
        return self.plan.parallelism.pipeline_parallel

    @property
    def on_gpu(self) -> bool:
        return self.plan.resources.gpu_count > 0


@dataclass(frozen=True, slots=True)
class WorkerCommand:
    """Leader and worker command lines of a multi-node (LeaderWorkerSet) replica."""

    leader_command: list[str]
    leader_args: list[str]
    worker_command: list[str]
    worker_args: list[str]


class EngineAdapter(Protocol):
    """One serving engine, as the renderer needs to know it."""

    name: str
    port: int
    metrics: EngineMetrics
    readiness_path: str
    liveness_path: str
    probe_port: str
    gateway_health_path: str
    planned_flags: frozenset[str]

    def image(self, ctx: EngineContext) -> str:
        """The pinned image (the spec's, else the engine's tested tag)."""
        ...

    def command(self, ctx: EngineContext) -> list[str]:
        """The container command."""
        ...

    def args(self, ctx: EngineContext) -> list[str]:
        """The container arguments: every planned setting, then the spec's extra_args."""
        ...

    def env(self, ctx: EngineContext) -> Env:
        """Engine-specific environment variables (cache directories are set by the workload)."""
        ...

    def ports(self) -> list[dict[str, Any]]:
        """Container ports; the first is the HTTP API."""
        ...

    def shm_gib(self, ctx: EngineContext) -> float:
        """Size of the memory-backed /dev/shm; 0 = none needed."""
        ...

    def can_serve(self, model: ModelArch) -> bool:
        """Whether the engine can serve this model (catalog facts)."""
        ...

    def multi_node(self, ctx: EngineContext) -> WorkerCommand | None:
        """Leader/worker commands across nodes, or None when the engine cannot span nodes."""
        ...


class AdapterDefaults:
    """What most engines share: one HTTP port, NCCL's /dev/shm only across GPUs, the catalog's word
    on which models they serve, no multi-node mode. Adapters inherit it and override what differs."""

    name: str
    port: int

    def ports(self) -> list[dict[str, Any]]:
        return [{"name": "http", "containerPort": self.port, "protocol": "TCP"}]

    def shm_gib(self, ctx: EngineContext) -> float:
        return ctx.plan.resources.shm_gib if ctx.tp * ctx.pp > 1 else 0.0

    def can_serve(self, model: ModelArch) -> bool:
        return self.name in model.engines

    def multi_node(self, ctx: EngineContext) -> WorkerCommand | None:
        return None
