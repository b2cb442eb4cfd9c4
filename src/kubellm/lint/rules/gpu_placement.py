"""GPU rules about where and how GPU pods are scheduled, rolled out, scaled and networked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kubellm.lint.context import LintContext
from kubellm.lint.facts import NCCL_ENGINES, rdma_devices, rdma_env
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.registry import rule
from kubellm.lint.workload import ContainerView, PodView, as_dict, as_list

RAW_MODES = frozenset({"RawDeployment", "Standard"})


@rule(
    "GPU013",
    "gpu-toleration",
    Severity.INFO,
    "A GPU pod does not tolerate the usual GPU-node taint",
    why="GKE, EKS and AKS GPU node pools taint nodes `nvidia.com/gpu=present:NoSchedule`; without a toleration "
    "the pod stays Pending (`node(s) had untolerated taint {nvidia.com/gpu: present}`) unless an admission "
    "controller adds it.",
    fix="Add `tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]`.",
    bad="resources: {limits: {nvidia.com/gpu: 1}}   # no tolerations",
    good="tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]",
    mistakes=("M14",),
    needs="gpu",
)
def gpu_toleration(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if not pod.uses_gpu:
        return
    for tol in as_list(pod.spec.get("tolerations")):
        tol = as_dict(tol)
        if tol.get("key") == "nvidia.com/gpu" or (not tol.get("key") and tol.get("operator") == "Exists"):
            return
    yield Hit("GPU pod without a toleration for the nvidia.com/gpu taint", f"{pod.path}.tolerations")


@rule(
    "GPU015",
    "rollout-deadlock",
    Severity.WARNING,
    "A GPU Deployment rolls out by surging extra pods",
    why="RollingUpdate with maxSurge ≥ 1 (the default 25 %) starts the new pod before the old one stops; on "
    "fully booked GPU nodes it stays Pending (`Insufficient nvidia.com/gpu`) and the rollout never finishes.",
    fix="Use `strategy: {type: Recreate}`, or RollingUpdate with `maxSurge: 0, maxUnavailable: 1` (spare GPU "
    "capacity otherwise).",
    bad="strategy: {type: RollingUpdate}   # default maxSurge 25%",
    good="strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}",
    mistakes=("M16",),
    needs="gpu",
)
def rollout_deadlock(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.obj.kind != "Deployment" or not pod.uses_gpu:
        return
    strategy = as_dict(pod.obj.spec.get("strategy"))
    if strategy.get("type") == "Recreate":
        return
    surge = as_dict(strategy.get("rollingUpdate")).get("maxSurge", "25%")
    if str(surge).strip() in ("0", "0%"):
        return
    yield Hit(
        f"RollingUpdate with maxSurge {surge} needs {pod.gpu_count} spare GPU(s) per pod during rollout",
        "spec.strategy",
    )


@rule(
    "GPU018",
    "runtimeclass",
    Severity.INFO,
    "A GPU pod sets no runtimeClassName",
    why="Where `nvidia` is not containerd's default runtime (k3s, microk8s, some GPU Operator installs) the "
    "container starts without the driver: `libcuda.so.1: cannot open shared object file`.",
    fix="Set `runtimeClassName: nvidia` (the GPU Operator creates it); ignore this rule on GKE/EKS where the "
    "default runtime already injects the driver.",
    bad="spec: {containers: [...]}   # GPU pod, no runtimeClassName",
    good="spec: {runtimeClassName: nvidia, containers: [...]}",
    mistakes=("M19",),
    needs="gpu",
)
def runtimeclass(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.uses_gpu and not pod.spec.get("runtimeClassName"):
        yield Hit("GPU pod without runtimeClassName", pod.path)


def _userspace_network(pod: PodView, c: ContainerView) -> str | None:
    """AWS EFA (libfabric) and GKE GPUDirect-TCPX/TCPXO move NCCL traffic without RDMA verbs memory
    registration, so they need no IPC_LOCK."""
    if any("efa" in str(r).lower() for r in c.limits):
        return "EFA"
    names = [*c.env, *(str(x.get("name") or "") for x in map(as_dict, as_list(pod.spec.get("containers"))))]
    if any("TCPX" in n.upper() or "FASTRAK" in n.upper() for n in names):
        return "GPUDirect-TCPX"
    return None


@rule(
    "GPU022",
    "rdma-ipc-lock",
    Severity.WARNING,
    "An engine set up for RDMA (InfiniBand/RoCE) has no IPC_LOCK",
    why="NCCL over InfiniBand/RoCE registers (pins) memory with the verbs API; without IPC_LOCK it fails (`ibv_reg_mr "
    "… Cannot allocate memory`) or silently falls back to TCP sockets, many times slower. EFA and GKE's "
    "GPUDirect-TCPX do not use verbs memory registration and need no IPC_LOCK; a multi-node group with no RDMA "
    "set up at all is only noted (info): NCCL runs over TCP sockets.",
    fix="Add `securityContext.capabilities.add: [IPC_LOCK]` to every pod that requests the RDMA device "
    "(e.g. `rdma/ib: 1`) or sets NCCL_IB_*; keep /dev/shm memory-backed.",
    bad="resources: {limits: {rdma/ib: 1, nvidia.com/gpu: 8}}   # no capabilities",
    good="securityContext: {capabilities: {add: [IPC_LOCK]}}\nresources: {limits: {rdma/ib: 1}}",
    mistakes=("M25",),
    needs="engine",
)
def rdma_ipc_lock(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        if c.engine is None or c.engine.engine not in NCCL_ENGINES:
            continue
        caps = [str(x).upper() for x in as_list(as_dict(c.security.get("capabilities")).get("add"))]
        locked = "IPC_LOCK" in caps or "CAP_IPC_LOCK" in caps or c.security.get("privileged") is True
        userspace = _userspace_network(pod, c)
        ib_env = rdma_env(c)
        devices = rdma_devices(c)
        if locked or userspace:
            continue
        if devices or ib_env:
            why = f"requests {devices[0]}" if devices else f"sets {ib_env[0]}"
            yield Hit(
                f"{c.name!r} {why} for RDMA but lacks the IPC_LOCK capability",
                f"{c.path}.securityContext",
                c.name,
            )
        elif pod.multi_node and not c.engine.rank:
            yield Hit(
                f"the {pod.group_size}-pod group has no RDMA device or EFA/TCPX set up: NCCL runs over TCP sockets",
                c.path,
                c.name,
                severity=Severity.INFO,
            )


def _predictor_uses_gpu(obj: K8sObject) -> bool:
    predictor = as_dict(obj.spec.get("predictor"))
    parts: list[Any] = [predictor.get("model"), *as_list(predictor.get("containers"))]
    return any(
        any(
            str(k).startswith(("nvidia.com/", "amd.com/gpu"))
            for k in as_dict(as_dict(as_dict(p).get("resources")).get("limits"))
        )
        for p in parts
    )


@rule(
    "GPU023",
    "knative-progress-deadline",
    Severity.WARNING,
    "A serverless KServe GPU model keeps Knative's 10-minute progress deadline (or scales to zero)",
    why="GPU node scale-up plus model download and load often exceeds Knative's default 10 min: the revision "
    "fails with `ProgressDeadlineExceeded` / `Initial scale was never achieved`; scale-to-zero kills pending GPU pods.",
    fix="Annotate `serving.knative.dev/progress-deadline: 30m` (or use `serving.kserve.io/deploymentMode: "
    "RawDeployment`) and keep `minReplicas: 1` for GPU models.",
    bad="kind: InferenceService   # serverless, GPU, no progress-deadline",
    good="metadata: {annotations: {serving.kserve.io/deploymentMode: RawDeployment}}",
    mistakes=("M26",),
    scope="object",
    kinds=("InferenceService",),
)
def knative_progress_deadline(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    if obj.annotations.get("serving.kserve.io/deploymentMode") in RAW_MODES or not _predictor_uses_gpu(obj):
        return
    predictor = as_dict(obj.spec.get("predictor"))
    annotations = {**obj.annotations, **as_dict(predictor.get("annotations"))}
    if "serving.knative.dev/progress-deadline" not in annotations:
        yield Hit(
            "serverless GPU InferenceService without serving.knative.dev/progress-deadline (default 10 min)",
            "metadata",
        )
    if predictor.get("minReplicas") == 0:
        yield Hit(
            "serverless GPU InferenceService scales to zero (minReplicas 0)", "spec.predictor.minReplicas"
        )


# DCGM's utilisation gauge (any exporter's spelling) and GKE's accelerator duty cycle.
_GPU_UTILISATION = re.compile(r"dcgm_fi_dev_gpu_util|gpu_util|accelerator[|/_]duty_cycle", re.IGNORECASE)


def _gpu_utilisation(metric: str) -> bool:
    return bool(_GPU_UTILISATION.search(metric))


def _target(ctx: LintContext, obj: K8sObject, ref: dict[str, Any]) -> K8sObject | None:
    return ctx.find(str(ref.get("kind") or "Deployment"), str(ref.get("name") or ""), obj.namespace)


def _is_gpu_llm(ctx: LintContext, target: K8sObject | None) -> bool:
    return target is not None and any(p.engines and p.uses_gpu for p in ctx.pods_of_object(target))


@rule(
    "GPU024",
    "hpa-cpu-metric",
    Severity.WARNING,
    "A GPU LLM server is autoscaled on CPU, memory or GPU utilisation",
    why="An LLM engine's CPU and host memory barely move with load (the work is on the GPU), so a CPU/memory "
    "target never scales up (or flaps); GPU utilisation (DCGM `DCGM_FI_DEV_GPU_UTIL`, GKE's accelerator "
    "duty cycle) reads near 100 % while one request decodes, so a target on it scales to the maximum at the "
    "first traffic and says nothing about the queue.",
    fix="Scale on queue depth (`vllm:num_requests_waiting`), running requests or KV-cache usage through KEDA "
    "or the Prometheus Adapter.",
    bad="metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]",
    good="metrics: [{type: Pods, pods: {metric: {name: vllm_num_requests_waiting}, target: {type: AverageValue, averageValue: 4}}}]",
    mistakes=("M28",),
    scope="object",
    kinds=("HorizontalPodAutoscaler", "ScaledObject"),
)
def hpa_cpu_metric(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    if not _is_gpu_llm(ctx, _target(ctx, obj, as_dict(obj.spec.get("scaleTargetRef")))):
        return
    if obj.kind == "ScaledObject":
        for i, trig in enumerate(as_list(obj.spec.get("triggers"))):
            trig = as_dict(trig)
            if trig.get("type") in ("cpu", "memory"):
                yield Hit(f"KEDA trigger {trig['type']} on a GPU LLM server", f"spec.triggers[{i}]")
            elif _gpu_utilisation(str(as_dict(trig.get("metadata")).get("query") or "")):
                yield Hit("KEDA trigger on GPU utilisation for a GPU LLM server", f"spec.triggers[{i}]")
        return
    if "targetCPUUtilizationPercentage" in obj.spec:
        yield Hit(
            "autoscaling/v1 HPA on CPU utilisation for a GPU LLM server",
            "spec.targetCPUUtilizationPercentage",
        )
        return
    metrics = as_list(obj.spec.get("metrics"))
    if not metrics:
        yield Hit("HPA without metrics defaults to 80 % CPU", "spec")
    for i, metric in enumerate(metrics):
        metric = as_dict(metric)
        name = as_dict(metric.get("resource") or metric.get("containerResource")).get("name")
        if metric.get("type") in ("Resource", "ContainerResource") and name in ("cpu", "memory"):
            yield Hit(f"HPA metric {name} on a GPU LLM server", f"spec.metrics[{i}]")
        custom = next((as_dict(metric.get(k)) for k in ("pods", "external", "object") if k in metric), {})
        custom_name = str(as_dict(custom.get("metric")).get("name") or "")
        if _gpu_utilisation(custom_name):
            yield Hit(f"HPA metric {custom_name} (GPU utilisation) on a GPU LLM server", f"spec.metrics[{i}]")
