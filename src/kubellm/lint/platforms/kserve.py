"""KServe: InferenceService predictors, (Cluster)ServingRuntimes, ClusterStorageContainers and
LLMInferenceServices (the llm-d based resource, whose vLLM container the controller supplies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.engines import EngineConfig, detect
from kubellm.lint.engines.vllm import parse as parse_vllm
from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import (
    ConfigMapLookup,
    ContainerView,
    PodView,
    as_dict,
    as_list,
    container_env,
    container_views,
    gpu_count,
    make_container,
    to_int,
)


def serving_runtime_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    """The head pod (and worker pods of `workerSpec`) a runtime template describes; the resources come
    from the InferenceService, so these pods are templates (``managed``) for resource rules."""
    worker = as_dict(obj.spec.get("workerSpec"))
    size = 2 if worker.get("containers") else 1
    yield PodView(
        obj,
        obj.spec,
        "spec",
        container_views(obj.spec, "spec", obj.namespace, configmaps),
        role="head",
        group_size=size,
        template=True,
    )
    if worker.get("containers"):
        yield PodView(
            obj,
            worker,
            "spec.workerSpec",
            container_views(worker, "spec.workerSpec", obj.namespace, configmaps),
            role="worker",
            group_size=size,
            template=True,
        )


def storage_container_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    container = obj.spec.get("container")
    if isinstance(container, dict):
        view = make_container(container, "spec.container", True, obj.namespace, configmaps)
        yield PodView(obj, {"initContainers": [container]}, "spec", [view], role="storage-initializer")


def inference_service_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    predictor = as_dict(obj.spec.get("predictor"))
    ns = obj.namespace
    worker = as_dict(predictor.get("workerSpec"))
    size = 1 + max(0, (to_int(worker.get("pipelineParallelSize"), 1) or 1) - 1) if worker else 1
    views: list[ContainerView] = []
    model = predictor.get("model")
    if isinstance(model, dict):
        fmt = str(as_dict(model.get("modelFormat")).get("name") or "").lower()
        hint = "kserve/huggingfaceserver" if fmt == "huggingface" else ""
        view = make_container(model, "spec.predictor.model", False, ns, configmaps, image_hint=hint)
        if view.engine is not None and view.engine.model is None and model.get("storageUri"):
            view.engine.model = str(model["storageUri"])
        views.append(view)
    views.extend(container_views(predictor, "spec.predictor", ns, configmaps))
    yield PodView(
        obj,
        predictor,
        "spec.predictor",
        views,
        to_int(predictor.get("minReplicas"), None),
        role="predictor",
        group_size=size,
        managed=isinstance(model, dict),
        controller_labels={"serving.kserve.io/inferenceservice": obj.name, "component": "predictor"},
    )


def _llm_engine(obj: K8sObject, container: dict[str, Any], parallelism: dict[str, Any]) -> EngineConfig:
    """vLLM as the LLMInferenceService controller starts it: the model, the parallelism fields and
    extra flags from VLLM_ADDITIONAL_ARGS; a container that sets its own command is parsed as written."""
    env, _ = container_env(container, obj.namespace, lambda name, ns: None)
    command = [str(t) for t in as_list(container.get("command"))]
    if command:
        found = detect(
            str(container.get("image") or ""), command, [str(a) for a in as_list(container.get("args"))], env
        )
        if found is not None:
            return found
    extra = env.get("VLLM_ADDITIONAL_ARGS", "").split()
    engine = parse_vllm(
        "vllm", [*extra, *(str(a) for a in as_list(container.get("args")))], env, positional_model=False
    )
    model = as_dict(obj.spec.get("model"))
    engine.model = engine.model or str(model.get("name") or model.get("uri") or "") or None
    tensor = to_int(parallelism.get("tensor"))
    data, data_local = to_int(parallelism.get("data")), to_int(parallelism.get("dataLocal"))
    engine.tensor_parallel = tensor if tensor is not None else engine.tensor_parallel
    engine.pipeline_parallel = to_int(parallelism.get("pipeline")) or engine.pipeline_parallel
    engine.data_parallel = data or engine.data_parallel
    if data and data_local and data > data_local:
        engine.nodes = data // data_local  # data-parallel ranks spread over pods, dataLocal per pod
    return engine


def _llm_pod(
    obj: K8sObject, template: dict[str, Any], path: str, parallelism: dict[str, Any], role: str, size: int
) -> PodView:
    containers = [c for c in as_list(template.get("containers")) if isinstance(c, dict)]
    index = next((i for i, c in enumerate(containers) if c.get("name") == "main"), 0)
    main = containers[index] if containers else {"name": "main"}
    count, names = gpu_count(main)
    env, sources = container_env(main, obj.namespace, lambda name, ns: None)
    view = ContainerView(
        main,
        f"{path}.containers[{index}]",
        env=env,
        env_sources=sources,
        engine=_llm_engine(obj, main, parallelism),
        gpu_count=count,
        gpu_resources=names,
    )
    return PodView(
        obj,
        template,
        path,
        [view],
        to_int(obj.spec.get("replicas"), 1),
        role=role,
        group_size=size,
        managed=True,
        controller_labels={
            "app.kubernetes.io/name": obj.name,
            "app.kubernetes.io/part-of": "llminferenceservice",
        },
    )


def llm_inference_service_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    """Decode (and prefill) pods of an LLMInferenceService; `worker` makes each replica a group of
    pods (data or pipeline parallel across nodes)."""
    for prefix, section in (("spec", obj.spec), ("spec.prefill", as_dict(obj.spec.get("prefill")))):
        if prefix == "spec.prefill" and not section:
            continue
        parallelism = as_dict(section.get("parallelism"))
        template = as_dict(section.get("template"))
        worker = as_dict(section.get("worker"))
        size = 1
        if worker:
            data, local = to_int(parallelism.get("data")), to_int(parallelism.get("dataLocal"))
            size = max(2, (data // local) if data and local else (to_int(parallelism.get("pipeline")) or 2))
        role = "prefill" if prefix == "spec.prefill" else "decode"
        yield _llm_pod(
            obj, template, f"{prefix}.template", parallelism, role if not worker else "leader", size
        )
        if worker:
            yield _llm_pod(obj, worker, f"{prefix}.worker", parallelism, "worker", size)
