"""The engine workload: its container, pod template, and a Deployment or (across nodes) a LeaderWorkerSet.

Every value comes from the plan: GPUs (requests = limits), host memory, /dev/shm, ephemeral
storage, the startup-probe budget; the rollout never waits for GPUs the old pod holds
(``maxSurge: 0``); the root filesystem is read-only with writable volumes for every cache.
"""

from __future__ import annotations

import math
from typing import Any

from kubellm.render.context import CACHE_DIR, MODELS_DIR, RenderContext
from kubellm.render.object_store import bucket_pod_annotations, streams
from kubellm.render.placement import node_affinity, spread, tolerations
from kubellm.render.prefetch import MARKER
from kubellm.render.security import container_security, pod_security
from kubellm.render.storage import (
    CLAIM_RETENTION,
    cache_claim_templates,
    download_dir,
    models_volume,
    prefetch_container,
    prefetch_volumes,
    prefetches,
    shared_cache,
    wait_container,
)
from kubellm.render.tenancy import identity_pod_labels

Obj = dict[str, Any]

PRESTOP_S = 15  # time for the gateway and Service endpoints to drop a terminating pod
DRAIN_S = 120  # time in-flight (streaming) requests get to finish after SIGTERM
LWS_API = "leaderworkerset.x-k8s.io/v1"
ROLE_LABEL = "kubellm.dev/role"
MULTI_NODE_NOTE = (
    "pods run as non-root, where an added IPC_LOCK is not effective (no ambient capabilities); for NCCL over "
    "InfiniBand/RoCE raise the nodes' memlock limit (containerd LimitMEMLOCK=infinity) and request the RDMA "
    "device resource; without them NCCL uses TCP sockets between the nodes"
)

CACHE_ENV = (
    ("HOME", f"{CACHE_DIR}/home"),
    ("USER", "kubellm"),  # torch's getpass.getuser() fails for a uid without a passwd entry
    ("HF_HOME", f"{CACHE_DIR}/huggingface"),
    ("XDG_CACHE_HOME", f"{CACHE_DIR}/xdg"),
    ("TORCHINDUCTOR_CACHE_DIR", f"{CACHE_DIR}/torchinductor"),
    ("TRITON_CACHE_DIR", f"{CACHE_DIR}/triton"),
    ("NUMBA_CACHE_DIR", f"{CACHE_DIR}/numba"),
    ("VLLM_CACHE_ROOT", f"{CACHE_DIR}/vllm"),
    ("TMPDIR", "/tmp"),
    ("HF_HUB_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
)


def _env(ctx: RenderContext) -> list[Obj]:
    env: list[Obj] = [{"name": k, "value": v} for k, v in CACHE_ENV]
    env += ctx.adapter.env(ctx.engine)
    taken = {e["name"] for e in env}
    env += [{"name": k, "value": v} for k, v in sorted(ctx.spec.engine.env.items()) if k not in taken]
    return env


def shm_gib(ctx: RenderContext) -> float:
    return ctx.adapter.shm_gib(ctx.engine)


def _quantity_gib(value: float) -> str:
    return f"{value:g}Gi" if float(value).is_integer() else f"{math.ceil(value * 1024)}Mi"


def _resources(ctx: RenderContext) -> Obj:
    r = ctx.plan.resources
    memory = math.ceil(r.memory_gib + shm_gib(ctx))  # a memory-backed /dev/shm counts against the limit
    ephemeral = r.ephemeral_storage_gib
    values: Obj = {"cpu": str(r.cpu), "memory": f"{memory}Gi", "ephemeral-storage": f"{ephemeral}Gi"}
    if r.gpu_count > 0:
        values[r.gpu_resource] = str(r.gpu_count)
    return {"requests": dict(values), "limits": dict(values)}


def startup_budget_s(ctx: RenderContext) -> int:
    """The plan's startup budget (≥ 10 minutes, 10 s per GiB of weights to load; M8: 10 min to 3 h)."""
    return ctx.plan.probes.startup_budget_s


def _probes(ctx: RenderContext) -> Obj:
    a = ctx.adapter
    budget = startup_budget_s(ctx)
    period = 10
    return {
        "startupProbe": {
            "httpGet": {"path": a.readiness_path, "port": a.probe_port},
            "periodSeconds": period,
            "timeoutSeconds": 5,
            "failureThreshold": math.ceil(budget / period),
        },
        "readinessProbe": {
            "httpGet": {"path": a.readiness_path, "port": a.probe_port},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
            "successThreshold": 1,
        },
        "livenessProbe": {
            "httpGet": {"path": a.liveness_path, "port": a.probe_port},
            "periodSeconds": 20,
            "timeoutSeconds": 10,
            "failureThreshold": 3,
        },
    }


def _mounts(ctx: RenderContext, *, read_only_models: bool = True) -> list[Obj]:
    mounts: list[Obj] = [
        *(
            [{"name": "models", "mountPath": MODELS_DIR} | ({"readOnly": True} if read_only_models else {})]
            if not streams(ctx)
            else []
        ),
        {"name": "cache", "mountPath": CACHE_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if shm_gib(ctx) > 0:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    return mounts


def engine_container(ctx: RenderContext, *, command: list[str] | None = None, args: list[str] | None = None,
                     probes: bool = True) -> Obj:  # fmt: skip
    a = ctx.adapter
    container: Obj = {
        "name": "engine",
        "image": a.image(ctx.engine),
        "imagePullPolicy": "IfNotPresent",
        "command": command if command is not None else a.command(ctx.engine),
        "args": args if args is not None else a.args(ctx.engine),
        "env": _env(ctx),
        "ports": a.ports(),
        "resources": _resources(ctx),
        "securityContext": container_security(),
        "volumeMounts": _mounts(ctx),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_S)]}}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if probes:
        container.update(_probes(ctx))
    return container


def _volumes(ctx: RenderContext) -> list[Obj]:
    ephemeral = ctx.plan.resources.ephemeral_storage_gib
    models = models_volume(ctx)
    volumes: list[Obj] = [
        *([models] if models is not None else []),
        {"name": "cache", "emptyDir": {"sizeLimit": f"{max(2, min(8, ephemeral // 2))}Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
    ]
    shm = shm_gib(ctx)
    if shm > 0:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": _quantity_gib(shm)}})
    if prefetches(ctx) and not shared_cache(ctx):
        volumes += [v for v in prefetch_volumes(ctx) if v["name"] != "tmp"]
    return volumes


def _init_containers(ctx: RenderContext) -> list[Obj]:
    inits: list[Obj] = []
    if prefetches(ctx):
        if shared_cache(ctx):
            inits.append(wait_container(ctx, "wait-for-model", download_dir(ctx)))
        else:
            inits.append(prefetch_container(ctx))
    if ctx.spec.engine.name.value == "trtllm":
        from kubellm.render.engines.trtllm import repository_dir

        inits.append(wait_container(ctx, "wait-for-engines", repository_dir(ctx.engine), ".kubellm-built"))
    return inits


def pod_metadata(ctx: RenderContext, labels: dict[str, str]) -> Obj:
    """Engine pod labels (with the provider's workload-identity label) and the bucket driver's annotations."""
    meta: Obj = {"labels": {**labels, **identity_pod_labels(ctx)}}
    annotations = bucket_pod_annotations(ctx)
    if annotations:
        meta["annotations"] = annotations
    return meta


def pod_spec(ctx: RenderContext, containers: list[Obj], *, init: bool = True) -> Obj:
    spec = ctx.spec
    pod: Obj = {
        "serviceAccountName": ctx.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,  # a Service named 'vllm' would inject VLLM_PORT=tcp://… (M20)
        "securityContext": pod_security(spec.security.run_as_user),
        "terminationGracePeriodSeconds": PRESTOP_S + DRAIN_S,
    }
    if spec.gpu.runtime_class:
        pod["runtimeClassName"] = spec.gpu.runtime_class
    if spec.placement.priority_class:
        pod["priorityClassName"] = spec.placement.priority_class
    if spec.placement.node_selector:
        pod["nodeSelector"] = dict(sorted(spec.placement.node_selector.items()))
    affinity = node_affinity(ctx)
    if affinity:
        pod["affinity"] = {"nodeAffinity": affinity}
    tol = tolerations(ctx)
    if tol:
        pod["tolerations"] = tol
    constraints = spread(ctx, ctx.selector("engine"))
    if constraints:
        pod["topologySpreadConstraints"] = constraints
    if init:
        inits = _init_containers(ctx)
        if inits:
            pod["initContainers"] = inits
    pod["containers"] = containers
    pod["volumes"] = _volumes(ctx)
    return pod


def autoscaled(ctx: RenderContext) -> bool:
    return ctx.spec.scaling.max_replicas > ctx.spec.scaling.min_replicas


def deployment(ctx: RenderContext) -> Obj:
    spec: Obj = {}
    if not autoscaled(ctx):
        spec["replicas"] = ctx.spec.scaling.min_replicas  # else the autoscaler owns the count
    spec.update(
        {
            "selector": {"matchLabels": ctx.selector("engine")},
            # GPU rollouts must not wait for GPUs the old pod holds (M16): replace, never surge.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "progressDeadlineSeconds": startup_budget_s(ctx) + 600,
            "revisionHistoryLimit": 3,
            "template": {
                "metadata": pod_metadata(ctx, ctx.labels("engine")),
                "spec": pod_spec(ctx, [engine_container(ctx)]),
            },
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.meta(ctx.name, "engine"),
        "spec": spec,
    }


def leader_worker_set(ctx: RenderContext) -> Obj:
    """One replica = one leader pod + (nodes − 1) worker pods, restarted together."""
    commands = ctx.adapter.multi_node(ctx.engine)
    assert commands is not None  # checked before rendering
    leader = engine_container(ctx, command=commands.leader_command, args=commands.leader_args)
    worker = engine_container(ctx, command=commands.worker_command, args=commands.worker_args, probes=False)
    worker["ports"] = [p for p in worker["ports"] if p["name"] != "http"] or []
    if not worker["ports"]:
        del worker["ports"]
    worker_pod = pod_spec(ctx, [worker])
    worker_pod.pop("topologySpreadConstraints", None)
    leader_labels = {**ctx.labels("engine"), ROLE_LABEL: "leader"}
    worker_labels = {**ctx.labels("engine"), ROLE_LABEL: "worker"}
    spec: Obj = {}
    if not autoscaled(ctx):
        spec["replicas"] = ctx.spec.scaling.min_replicas
    spec.update(
        {
            "startupPolicy": "LeaderCreated",
            "rolloutStrategy": {
                "type": "RollingUpdate",
                "rollingUpdateConfiguration": {"maxSurge": 0, "maxUnavailable": 1},
            },
            "leaderWorkerTemplate": {
                "size": ctx.plan.parallelism.nodes_per_replica,
                "restartPolicy": "RecreateGroupOnPodRestart",
                **(
                    {
                        "volumeClaimTemplates": claims,
                        "persistentVolumeClaimRetentionPolicy": dict(CLAIM_RETENTION),
                    }
                    if (claims := cache_claim_templates(ctx))
                    else {}
                ),
                "leaderTemplate": {
                    "metadata": pod_metadata(ctx, leader_labels),
                    "spec": pod_spec(ctx, [leader]),
                },
                "workerTemplate": {"metadata": pod_metadata(ctx, worker_labels), "spec": worker_pod},
            },
        }
    )
    meta = ctx.meta(ctx.name, "engine")
    meta["annotations"] = {
        "kubellm.dev/lint-ignore": "GPU022",
        "kubellm.dev/lint-ignore-reason": MULTI_NODE_NOTE,
    }
    return {"apiVersion": LWS_API, "kind": "LeaderWorkerSet", "metadata": meta, "spec": spec}


def stateful_set(ctx: RenderContext) -> Obj:
    """Replicas that each keep a cache claim (volumeClaimTemplates): pods start in parallel, update one at a
    time (a GPU rollout never surges), and find their weights again after a restart or a scale-up."""
    spec: Obj = {}
    if not autoscaled(ctx):
        spec["replicas"] = ctx.spec.scaling.min_replicas
    spec.update(
        {
            "serviceName": ctx.engine_service,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": ctx.selector("engine")},
            "updateStrategy": {"type": "RollingUpdate"},
            "revisionHistoryLimit": 3,
            "persistentVolumeClaimRetentionPolicy": dict(CLAIM_RETENTION),
            "template": {
                "metadata": pod_metadata(ctx, ctx.labels("engine")),
                "spec": pod_spec(ctx, [engine_container(ctx)]),
            },
            "volumeClaimTemplates": cache_claim_templates(ctx),
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": ctx.meta(ctx.name, "engine"),
        "spec": spec,
    }


def workload_kind(ctx: RenderContext) -> str:
    """LeaderWorkerSet across nodes, StatefulSet with a per-replica cache, else Deployment."""
    if ctx.multi_node:
        return "LeaderWorkerSet"
    return "StatefulSet" if cache_claim_templates(ctx) else "Deployment"


def engine_workload(ctx: RenderContext) -> Obj:
    kind = workload_kind(ctx)
    if kind == "LeaderWorkerSet":
        return leader_worker_set(ctx)
    return stateful_set(ctx) if kind == "StatefulSet" else deployment(ctx)


def marker_path(ctx: RenderContext) -> str:
    return f"{download_dir(ctx)}/{MARKER}"
