"""KubeAI `Model`: the controller renders the engine pod from the engine name, URL, args and a resource
profile (`nvidia-gpu-l4:1`), so only those fields are checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.engines import detect
from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import ConfigMapLookup, ContainerView, PodView, as_dict, as_list, to_int

ENGINE_IMAGES = {"vllm": "vllm/vllm-openai", "ollama": "ollama/ollama"}


def is_kubeai(obj: K8sObject) -> bool:
    return obj.api_version.startswith("kubeai.org/")


def model_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    spec = obj.spec
    engine_name = str(spec.get("engine") or "").lower()
    args = [str(a) for a in as_list(spec.get("args"))]
    env = {str(k): str(v) for k, v in as_dict(spec.get("env")).items()}
    container: dict[str, Any] = {"name": "server", "args": args}
    engine = detect(ENGINE_IMAGES.get(engine_name, engine_name), [], args, env)
    url = str(spec.get("url") or "")
    if engine is not None and engine.model is None and url:
        engine.model = url.split("://", 1)[-1]
    profile = str(spec.get("resourceProfile") or "")
    profile_name, _, count_text = profile.partition(":")
    gpu_like = profile_name.startswith(("nvidia", "amd")) or "gpu" in profile_name
    count = (to_int(count_text, 1) or 1) if gpu_like else 0
    view = ContainerView(
        container,
        "spec",
        env=env,
        engine=engine,
        gpu_count=count,
        gpu_resources=("nvidia.com/gpu",) if count else (),
    )
    gpu_name = profile_name.removeprefix("nvidia-gpu-").removeprefix("gpu-") if count else None
    yield PodView(
        obj,
        {},
        "spec",
        [view],
        to_int(spec.get("minReplicas"), None),
        managed=True,
        gpu_profile=gpu_name,
        gpu_profile_source=f"resourceProfile {profile}",
        controller_labels={"model": obj.name},
    )
