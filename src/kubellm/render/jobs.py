"""The TensorRT-LLM engine-build Job (Triton): compiles engines once, on the planned GPUs, into the cache PVC."""

from __future__ import annotations

from typing import Any

from kubellm.render.context import RenderContext
from kubellm.render.engines.trtllm import build_script
from kubellm.render.storage import download_dir, wait_container
from kubellm.render.workload import engine_container, pod_spec

Obj = dict[str, Any]


def engine_build_objects(ctx: RenderContext) -> list[Obj]:
    if ctx.spec.engine.name.value != "trtllm":
        return []
    script = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta(f"{ctx.name}-engine-build", "engine-build"),
        "data": {"build.sh": build_script(ctx.engine)},
    }
    container = engine_container(ctx, command=["/bin/sh", "/opt/kubellm/build.sh"], args=[], probes=False)
    container.pop("args")  # the server stores no empty list
    container["name"] = "engine-build"
    container.pop("ports", None)
    container.pop("lifecycle", None)
    for mount in container["volumeMounts"]:
        if mount["name"] == "models":
            mount.pop("readOnly", None)  # writes the engines and the model repository (false is the default)
    container["volumeMounts"].append({"name": "build-script", "mountPath": "/opt/kubellm", "readOnly": True})
    pod = pod_spec(ctx, [container], init=False)
    pod["initContainers"] = [wait_container(ctx, "wait-for-model", download_dir(ctx))]
    pod["restartPolicy"] = "OnFailure"
    pod.pop("topologySpreadConstraints", None)
    pod["terminationGracePeriodSeconds"] = 30
    pod["volumes"].append(
        {"name": "build-script", "configMap": {"name": f"{ctx.name}-engine-build", "defaultMode": 0o555}}
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": ctx.meta(f"{ctx.name}-engine-build", "engine-build"),
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": 4 * 3600,
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": ctx.labels("engine-build")}, "spec": pod},
        },
    }
    return [script, job]
