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
from kubellm.engines import EngineTable, MetricNames, check_extra_args, check_extra_env
from kubellm.planning.result import Plan

Env = list[dict[str, Any]]
EngineMetrics = MetricNames  # the engine table's metric names, as the renderer reads them


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
    load_format: str | None = None  # 'runai_streamer' when the engine streams the weights from a bucket

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

    table: EngineTable

    @property
    def name(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def metrics(self) -> EngineMetrics: ...

    @property
    def readiness_path(self) -> str: ...

    @property
    def liveness_path(self) -> str: ...

    @property
    def probe_port(self) -> str: ...

    @property
    def gateway_health_path(self) -> str: ...

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
    """What most engines share: name, port, metric names and probe paths from the engine table, one HTTP
    port, NCCL's /dev/shm only across GPUs, the catalog's word on which models they serve, no multi-node
    mode, and the extra-args guard. Adapters inherit it and override what differs."""

    table: EngineTable

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def port(self) -> int:
        return self.table.serving_port

    @property
    def metrics(self) -> EngineMetrics:
        assert self.table.metrics is not None, f"{self.table.name} has no metric names"
        return self.table.metrics

    @property
    def readiness_path(self) -> str:
        return self.table.readiness.ready_path

    @property
    def liveness_path(self) -> str:
        return self.table.readiness.live_path

    @property
    def probe_port(self) -> str:
        return "http"

    @property
    def gateway_health_path(self) -> str:
        return self.table.readiness.gateway_path

    def with_extra_args(self, ctx: EngineContext, planned: list[str]) -> list[str]:
        """Planned arguments followed by the spec's extra_args, after the guard: an extra arg (or engine.env
        variable) that sets a flag kubellm plans, in any spelling, is an error naming the spec field."""
        engine = ctx.plan.spec.engine
        check_extra_args(self.table, engine.extra_args)
        check_extra_env(self.table, engine.env)
        return [*planned, *engine.extra_args]

    def ports(self) -> list[dict[str, Any]]:
        return [{"name": "http", "containerPort": self.port, "protocol": "TCP"}]

    def shm_gib(self, ctx: EngineContext) -> float:
        return ctx.plan.resources.shm_gib if ctx.tp * ctx.pp > 1 else 0.0

    def can_serve(self, model: ModelArch) -> bool:
        return self.name in model.engines

    def multi_node(self, ctx: EngineContext) -> WorkerCommand | None:
        return None
