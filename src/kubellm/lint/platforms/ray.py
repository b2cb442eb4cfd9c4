"""KubeRay `RayCluster`, `RayService`, `RayJob` and AIBrix `RayClusterFleet`: a head pod and worker
groups; a RayService's Ray Serve LLM applications (`ray.serve.llm:build_openai_app`) run vLLM with
`engine_kwargs` on the GPU workers, which therefore carry the engine's settings here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from kubellm.engines import RAY_ENGINE_KWARGS
from kubellm.lint.engines import EngineConfig
from kubellm.lint.loader import K8sObject
from kubellm.lint.platforms.core import deployment_surge
from kubellm.lint.workload import ConfigMapLookup, PodView, as_dict, as_list, template_pod, to_int

LLM_APP_PREFIX = "ray.serve.llm"


def _cluster_pods(
    obj: K8sObject, cluster: dict[str, Any], path: str, configmaps: ConfigMapLookup, **extra: Any
) -> list[PodView]:
    head = as_dict(cluster.get("headGroupSpec"))
    groups = [as_dict(g) for g in as_list(cluster.get("workerGroupSpecs"))]
    cluster_name = obj.name if obj.kind == "RayCluster" else None
    pods: list[PodView] = []
    labels: dict[str, str | None] = {
        "ray.io/cluster": cluster_name,
        "ray.io/node-type": "head",
        "ray.io/group": "headgroup",
    }
    pod = template_pod(
        obj,
        as_dict(head.get("template")),
        f"{path}.headGroupSpec.template",
        configmaps,
        role="head",
        controller_labels=labels,
        **extra,
    )
    if pod is not None:
        pods.append(pod)
    for i, group in enumerate(groups):
        labels = {
            "ray.io/cluster": cluster_name,
            "ray.io/node-type": "worker",
            "ray.io/group": str(group.get("groupName") or ""),
        }
        pod = template_pod(
            obj,
            as_dict(group.get("template")),
            f"{path}.workerGroupSpecs[{i}].template",
            configmaps,
            role="worker",
            replicas=to_int(group.get("replicas"), 1),
            controller_labels=labels,
            **extra,
        )
        if pod is not None:
            pods.append(pod)
    return pods


def serve_llm_engines(serve_config: Any) -> list[tuple[EngineConfig, str | None]]:
    """(engine, accelerator_type) for each LLM of the Ray Serve LLM applications in `serveConfigV2`;
    `engine_kwargs` are vLLM's settings by the keys the Ray Serve LLM engine table lists."""
    try:
        config = yaml.safe_load(serve_config) if isinstance(serve_config, str) else serve_config
    except yaml.YAMLError:
        return []
    found: list[tuple[EngineConfig, str | None]] = []
    for app in as_list(as_dict(config).get("applications")):
        app = as_dict(app)
        if not str(app.get("import_path") or "").startswith(LLM_APP_PREFIX):
            continue
        for llm in as_list(as_dict(app.get("args")).get("llm_configs")):
            llm = as_dict(llm)
            engine = EngineConfig(engine="ray-serve-llm")
            for key, value in as_dict(llm.get("engine_kwargs")).items():
                setting = RAY_ENGINE_KWARGS.get(str(key))
                if setting is not None and hasattr(engine, setting):
                    setattr(engine, setting, value)
            loading = as_dict(llm.get("model_loading_config"))
            engine.model = str(loading.get("model_source") or loading.get("model_id") or "") or None
            accelerator = llm.get("accelerator_type")
            found.append((engine, str(accelerator) if accelerator else None))
    return found


def _attach_llm(pods: list[PodView], serve_config: Any) -> None:
    """Give the GPU pods (workers, else the head) the engine of the first Ray Serve LLM config."""
    engines = serve_llm_engines(serve_config)
    if not engines:
        return
    engine, accelerator = engines[0]
    gpu_pods = [p for p in pods if p.role == "worker" and p.uses_gpu] or [p for p in pods if p.uses_gpu]
    for pod in gpu_pods:
        for container in pod.main[:1]:
            container.engine = engine
        if accelerator and pod.gpu_profile is None:
            pod.gpu_profile, pod.gpu_profile_source = accelerator, f"accelerator_type {accelerator}"


def _ray_nodes(pods: list[PodView]) -> list[PodView]:
    """KubeRay replaces an empty command of the Ray container with `ray start`: whatever the image
    ships, it is a Ray node, not an engine, unless its command starts one. An engine that needs more
    GPUs than its pod has spans the GPU pods of the cluster (vLLM's Ray executor)."""
    for pod in pods:
        ray = pod.main[:1]
        if ray and not ray[0].data.get("command"):
            ray[0].engine = None
    gpu_pods = [p for p in pods if p.gpu_count > 0]
    for pod in pods:
        for container in pod.engines:
            engine = container.engine
            if engine is not None and pod.gpu_count and engine.gpus_needed > pod.gpu_count:
                size = sum((p.replicas or 1) for p in gpu_pods if p.role == "worker") + (pod.role == "head")
                for other in pods:
                    other.group_size = max(other.group_size, size)
    return pods


def ray_cluster_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    yield from _ray_nodes(_cluster_pods(obj, obj.spec, "spec", configmaps))


def ray_service_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    pods = _ray_nodes(
        _cluster_pods(obj, as_dict(obj.spec.get("rayClusterConfig")), "spec.rayClusterConfig", configmaps)
    )
    _attach_llm(pods, obj.spec.get("serveConfigV2"))
    yield from pods


def ray_job_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    yield from _ray_nodes(
        _cluster_pods(obj, as_dict(obj.spec.get("rayClusterSpec")), "spec.rayClusterSpec", configmaps)
    )


def ray_cluster_fleet_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    """AIBrix: `replicas` RayClusters from `template`, rolled out like a Deployment (`strategy`)."""
    template = as_dict(obj.spec.get("template"))
    pods = _cluster_pods(
        obj,
        as_dict(template.get("spec")),
        "spec.template.spec",
        configmaps,
        max_surge=deployment_surge(obj.spec),
    )
    for pod in _ray_nodes(pods):
        pod.replicas = (pod.replicas or 1) * (to_int(obj.spec.get("replicas"), 1) or 1)
        yield pod
