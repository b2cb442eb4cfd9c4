"""NVIDIA Dynamo `DynamoGraphDeployment`: one pod template per service (frontend, prefill and decode
workers…), each `extraPodSpec` with its `mainContainer`, Dynamo's `gpu` resource and `multinode`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import (
    ConfigMapLookup,
    PodView,
    as_dict,
    as_list,
    container_views,
    make_container,
    to_int,
)

GPU_KEYS = {"gpu": "nvidia.com/gpu"}


def _resources(section: dict[str, Any]) -> dict[str, Any]:
    """Dynamo's `{limits: {cpu, memory, gpu}}` as Kubernetes resources (`gpu` → nvidia.com/gpu)."""
    out: dict[str, Any] = {}
    for part in ("requests", "limits"):
        values = as_dict(section.get(part))
        if values:
            out[part] = {GPU_KEYS.get(str(k), str(k)): v for k, v in values.items() if v not in (None, "")}
    return out


def dynamo_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    global_env = as_list(obj.spec.get("envs"))
    for name, service in as_dict(obj.spec.get("services")).items():
        service = as_dict(service)
        extra = as_dict(service.get("extraPodSpec"))
        main = dict(as_dict(extra.get("mainContainer")))
        main.setdefault("name", "main")
        env = [*global_env, *as_list(service.get("envs")), *as_list(main.get("env"))]
        if env:
            main["env"] = env
        resources = _resources(as_dict(service.get("resources")))
        if resources and not main.get("resources"):
            main["resources"] = resources
        if service.get("envFromSecret"):
            main["envFrom"] = [
                *as_list(main.get("envFrom")),
                {"secretRef": {"name": service["envFromSecret"]}},
            ]
        path = f"spec.services.{name}.extraPodSpec"
        others = {k: v for k, v in extra.items() if k != "mainContainer"}
        views = [
            make_container(main, f"{path}.mainContainer", False, obj.namespace, configmaps),
            *container_views(others, path, obj.namespace, configmaps),
        ]
        pod_spec = {**others, "containers": [main, *as_list(others.get("containers"))]}
        size = to_int(as_dict(service.get("multinode")).get("nodeCount"), 1) or 1
        yield PodView(
            obj,
            pod_spec,
            path,
            views,
            to_int(service.get("replicas"), 1),
            role=str(service.get("componentType") or name),
            group_size=size,
            managed=True,
            controller_labels={
                "nvidia.com/dynamo-graph-deployment-name": obj.name,
                "nvidia.com/dynamo-component": str(name),
            },
        )
