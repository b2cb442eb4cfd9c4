"""Rules about platform objects themselves: a Ray head open to the network, LoRA adapters for engines
that cannot load them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.context import LintContext
from kubellm.lint.exposure import EXTERNAL_SERVICE_TYPES
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.registry import rule
from kubellm.lint.workload import as_dict

RAY_CLUSTER_SPECS = {
    "RayCluster": "spec",
    "RayService": "spec.rayClusterConfig",
    "RayJob": "spec.rayClusterSpec",
    "RayClusterFleet": "spec.template.spec",
}


def _at(obj: K8sObject, path: str) -> dict[str, Any]:
    node: Any = obj.data
    for key in path.split("."):
        node = as_dict(node).get(key)
    return as_dict(node)


@rule(
    "NET008",
    "ray-head-exposed",
    Severity.ERROR,
    "A Ray head is exposed outside the cluster",
    why="The Ray dashboard and Jobs API (8265) and the Ray client port (10001) have no authentication: whoever "
    "reaches them runs arbitrary code on every node of the cluster, GPUs and mounted credentials included "
    "(CVE-2023-48022, exploited in the wild).",
    fix="Keep `headGroupSpec.serviceType: ClusterIP` (the default) and reach the dashboard with `kubectl "
    "port-forward`; expose only the Serve port, through an authenticating gateway.",
    bad="headGroupSpec: {serviceType: LoadBalancer}",
    good="headGroupSpec: {serviceType: ClusterIP}",
    scope="object",
    kinds=tuple(RAY_CLUSTER_SPECS),
)
def ray_head_exposed(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    path = RAY_CLUSTER_SPECS[obj.kind]
    head = as_dict(_at(obj, path).get("headGroupSpec"))
    kind = head.get("serviceType", "ClusterIP")
    if kind in EXTERNAL_SERVICE_TYPES:
        yield Hit(
            f"the Ray head Service is a {kind}: dashboard, Jobs API and client port are open",
            f"{path}.headGroupSpec.serviceType",
        )
    elif head.get("enableIngress") is True:
        yield Hit(
            "the Ray head has an Ingress: the dashboard and Jobs API are open",
            f"{path}.headGroupSpec.enableIngress",
        )


@rule(
    "GPU033",
    "lora-adapter-unloadable",
    Severity.ERROR,
    "A ModelAdapter selects engine pods that cannot load LoRA adapters at run time",
    why="AIBrix loads an adapter through vLLM's `/v1/load_lora_adapter`, which exists only with `--enable-lora` and "
    "`VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`; without them the adapter stays Pending. A podSelector that "
    "matches no pod leaves it unscheduled.",
    fix="Start the base model with `--enable-lora` (and `--max-loras`) and set `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`; "
    "make the adapter's podSelector match the base model's pod labels.",
    bad="kind: ModelAdapter\nspec: {podSelector: {matchLabels: {model.aibrix.ai/name: qwen}}}\n# vllm serve Qwen/… (no --enable-lora)",
    good="args: [serve, Qwen/Qwen2.5-Coder-1.5B-Instruct, --enable-lora, --max-loras=4]\n"
    "env: [{name: VLLM_ALLOW_RUNTIME_LORA_UPDATING, value: 'True'}]",
    scope="object",
    kinds=("ModelAdapter",),
)
def lora_adapter_unloadable(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    selector = as_dict(obj.spec.get("podSelector"))
    pods = ctx.pods_selected(selector, obj.namespace)
    if not pods:
        if ctx.pods:
            yield Hit(
                "podSelector matches no pod here: the adapter has no base model to load into",
                "spec.podSelector",
            )
        return
    for pod in pods:
        for c in pod.engines:
            engine = c.engine
            if engine is None or not engine.vllm_like:
                continue
            missing = []
            if not engine.args.has("enable-lora"):
                missing.append("--enable-lora")
            if c.env.get("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "").lower() not in ("true", "1"):
                missing.append("VLLM_ALLOW_RUNTIME_LORA_UPDATING=True")
            if missing:
                yield Hit(
                    f"{pod.obj.kind} {pod.obj.name!r} runs {engine.engine} without {' and '.join(missing)}: the adapter "
                    "cannot be loaded",
                    "spec.podSelector",
                )
                return
