"""NVIDIA NIM Operator: `NIMService` (a NIM engine pod, its cache, exposure and scaling) and `NIMCache`
(the job that downloads a model profile into a PVC)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.engines import nim
from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import (
    ConfigMapLookup,
    ContainerView,
    PodView,
    as_dict,
    as_list,
    container_env,
    gpu_count,
    to_int,
)


def _image(spec: dict[str, Any]) -> str:
    image = as_dict(spec.get("image"))
    repo, tag = str(image.get("repository") or ""), str(image.get("tag") or "")
    return f"{repo}:{tag}" if repo and tag else repo


def _probe(spec: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A NIMService probe is `{enabled, probe}`; the operator supplies the probe when none is given."""
    section = as_dict(spec.get(key))
    probe = section.get("probe")
    return probe if section.get("enabled", True) is not False and isinstance(probe, dict) else None


def nim_service_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    spec = obj.spec
    container: dict[str, Any] = {
        "name": "nim",
        "image": _image(spec),
        "env": as_list(spec.get("env")),
        "resources": as_dict(spec.get("resources")),
    }
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = _probe(spec, key)
        if probe is not None:
            container[key] = probe
    env, sources = container_env(container, obj.namespace, configmaps)
    count, names = gpu_count(container)
    view = ContainerView(
        container,
        "spec",
        env=env,
        env_sources=sources,
        engine=nim.parse(container["image"], [], env),
        gpu_count=count,
        gpu_resources=names,
    )
    multi = as_dict(spec.get("multiNode"))
    size = (to_int(multi.get("size"), 1) or 1) if multi else 1
    keys = ("nodeSelector", "tolerations", "affinity", "runtimeClassName")
    pod_spec: dict[str, Any] = {k: spec[k] for k in keys if k in spec}
    yield PodView(
        obj,
        pod_spec,
        "spec",
        [view],
        to_int(spec.get("replicas"), 1),
        managed=True,
        group_size=size,
        controller_labels={"app": obj.name, "app.kubernetes.io/name": obj.name},
    )


def nim_cache_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    """The download job: the model puller image, its resources and node placement."""
    spec = obj.spec
    source = as_dict(spec.get("source"))
    puller = ""
    for kind in ("ngc", "hf", "dataStore"):
        puller = str(as_dict(source.get(kind)).get("modelPuller") or puller)
    container = {"name": "nim-cache", "image": puller, "resources": as_dict(spec.get("resources"))}
    pod_spec: dict[str, Any] = {k: spec[k] for k in ("nodeSelector", "tolerations") if k in spec}
    view = ContainerView(container, "spec", init=True)
    yield PodView(obj, pod_spec, "spec", [view], role="model-download", managed=True)
