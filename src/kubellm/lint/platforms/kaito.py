"""KAITO `Workspace` and `InferenceSet`: a preset model (→ catalog) on GPU nodes of an instance type
(→ GPU type and count), served by vLLM with the flags of the `inference.config` ConfigMap; or a custom
pod template (`inference.template`), read like any pod."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import yaml

from kubellm.lint.engines import EngineConfig
from kubellm.lint.engines.vllm import parse as parse_vllm
from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import ConfigMapLookup, ContainerView, PodView, as_dict, template_pod, to_int


@cache
def instance_gpus() -> dict[str, tuple[str, int]]:
    """Instance type (lower case) → (catalog GPU name, GPUs per instance), from the catalog's providers."""
    from kubellm.catalog.providers import all_providers

    return {i.name.lower(): (i.gpu, i.gpus) for p in all_providers().values() for i in p.instances}


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


def _config_args(obj: K8sObject, inference: dict[str, Any], configmaps: ConfigMapLookup) -> list[str]:
    """vLLM flags from the `vllm:` section of the ConfigMap named by `inference.config`."""
    name = inference.get("config")
    data = configmaps(str(name), obj.namespace) if name else None
    text = (data or {}).get("inference_config.yaml")
    try:
        config = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        return []
    args: list[str] = []
    for key, value in as_dict(as_dict(config).get("vllm")).items():
        if value is True:
            args.append(f"--{key}")
        elif value is not False and value is not None:
            args.append(f"--{key}={value}")
    return args


def _engine(
    obj: K8sObject, inference: dict[str, Any], nodes: int, gpus: int, configmaps: ConfigMapLookup
) -> EngineConfig:
    preset = str(as_dict(inference.get("preset")).get("name") or "")
    engine = parse_vllm("vllm", _config_args(obj, inference, configmaps), {}, positional_model=False)
    engine.model = engine.model or preset or None
    if engine.tensor_parallel is None and gpus > 1:
        engine.tensor_parallel = gpus  # KAITO shards a preset over the GPUs of each node
    if engine.pipeline_parallel is None and nodes > 1:
        engine.pipeline_parallel = nodes  # and over nodes when `resource.count` > 1
    engine.sizes_context = engine.max_model_len is None  # KAITO probes the longest context that fits
    return engine


def _pods(
    obj: K8sObject,
    resource: dict[str, Any],
    inference: dict[str, Any],
    path: str,
    replicas: int | None,
    configmaps: ConfigMapLookup,
) -> Iterator[PodView]:
    labels: dict[str, str | None] = {"kaito.sh/workspace": obj.name}
    template = as_dict(inference.get("template"))
    if template:
        pod = template_pod(
            obj,
            template,
            _join(path, "inference.template"),
            configmaps,
            replicas=replicas,
            controller_labels=labels,
        )
        if pod is not None:
            yield pod
        return
    if not inference.get("preset"):
        return
    instance = str(resource.get("instanceType") or "")
    gpu_name, per_node = instance_gpus().get(instance.lower(), (None, 0))
    nodes = to_int(resource.get("count"), 1) or 1
    engine = _engine(obj, inference, nodes, per_node, configmaps)
    view = ContainerView(
        {"name": "inference"},
        _join(path, "inference.preset"),
        engine=engine,
        gpu_count=per_node,
        gpu_resources=("nvidia.com/gpu",) if per_node else (),
    )
    yield PodView(
        obj,
        {},
        _join(path, "resource"),
        [view],
        replicas,
        group_size=nodes if engine.pipeline_parallel and engine.pipeline_parallel > 1 else 1,
        managed=True,
        gpu_profile=gpu_name,
        gpu_profile_source=f"instanceType {instance}",
        controller_labels=labels,
    )


def workspace_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    """A Workspace keeps `resource` and `inference` at the top level, beside `metadata`."""
    yield from _pods(
        obj, as_dict(obj.data.get("resource")), as_dict(obj.data.get("inference")), "", 1, configmaps
    )


def inference_set_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    template = as_dict(obj.spec.get("template"))
    yield from _pods(
        obj,
        as_dict(template.get("resource")),
        as_dict(template.get("inference")),
        "spec.template",
        to_int(obj.spec.get("replicas"), 1),
        configmaps,
    )
