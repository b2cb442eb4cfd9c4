"""SCALE rules: HorizontalPodAutoscalers and KEDA ScaledObjects of LLM servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kubellm.lint.context import LintContext
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.registry import rule
from kubellm.lint.workload import as_dict, as_list

SCALE_DOWN_MIN_S = 300
ENGINE_METRIC = re.compile(r"vllm[:_]|tgi_|sglang[:_]|nv_inference|llamacpp[:_]|ollama")


def _target(ctx: LintContext, obj: K8sObject) -> K8sObject | None:
    ref = as_dict(obj.spec.get("scaleTargetRef"))
    return ctx.find(str(ref.get("kind") or "Deployment"), str(ref.get("name") or ""), obj.namespace)


def _is_llm(ctx: LintContext, target: K8sObject | None) -> bool:
    return target is not None and any(p.engines for p in ctx.pods_of_object(target))


def _behavior(obj: K8sObject) -> dict[str, Any]:
    if obj.kind == "ScaledObject":
        return as_dict(
            as_dict(as_dict(obj.spec.get("advanced")).get("horizontalPodAutoscalerConfig")).get("behavior")
        )
    return as_dict(obj.spec.get("behavior"))


@rule(
    "SCALE001",
    "scale-down-too-fast",
    Severity.WARNING,
    "An LLM server scales down within minutes of a dip",
    why="A replica takes minutes to load its model; a short scale-down window removes it in a lull and the "
    "next burst waits for a cold start (and flaps). The HPA default is 300 s; shorter windows are the mistake.",
    fix="Keep `behavior.scaleDown.stabilizationWindowSeconds` ≥ 300 (600 for big models).",
    bad="behavior: {scaleDown: {stabilizationWindowSeconds: 30}}",
    good="behavior: {scaleDown: {stabilizationWindowSeconds: 600}}",
    scope="object",
    kinds=("HorizontalPodAutoscaler", "ScaledObject"),
)
def scale_down_too_fast(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    if not _is_llm(ctx, _target(ctx, obj)):
        return
    window = as_dict(_behavior(obj).get("scaleDown")).get("stabilizationWindowSeconds")
    path = (
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown"
        if obj.kind == "ScaledObject"
        else "spec.behavior.scaleDown"
    )
    if isinstance(window, int) and window < SCALE_DOWN_MIN_S:
        yield Hit(f"scale-down stabilization window is {window} s", path)


@rule(
    "SCALE002",
    "scale-to-zero-without-holding",
    Severity.ERROR,
    "An engine scales to zero on its own metrics, with nothing to hold requests",
    why="At zero replicas the engine's metrics (queue length, running requests) do not exist, so the autoscaler "
    "never scales up again, and requests arriving meanwhile fail instead of waiting.",
    fix="Scale from zero on a signal that exists at zero (a gateway's pending-request metric, KEDA HTTP add-on) "
    "behind something that holds requests, or keep `minReplicaCount: 1`.",
    bad="kind: ScaledObject\nspec: {minReplicaCount: 0, triggers: [{type: prometheus, metadata: {query: 'sum(vllm:num_requests_waiting)'}}]}",
    good="kind: ScaledObject\nspec: {minReplicaCount: 1, triggers: [{type: prometheus, metadata: {query: 'sum(vllm:num_requests_waiting)'}}]}",
    scope="object",
    kinds=("ScaledObject",),
)
def scale_to_zero(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    minimum = obj.spec.get("minReplicaCount", 0)  # KEDA's default is 0: scale to zero unless told otherwise
    if minimum != 0:
        return
    triggers = [as_dict(t) for t in as_list(obj.spec.get("triggers"))]
    queries = [str(as_dict(t.get("metadata")).get("query") or "") for t in triggers]
    if (
        triggers
        and all(t.get("type") == "prometheus" for t in triggers)
        and all(ENGINE_METRIC.search(q) for q in queries)
    ):
        how = (
            "minReplicaCount 0"
            if "minReplicaCount" in obj.spec
            else "no minReplicaCount (KEDA's default is 0)"
        )
        yield Hit(f"{how} with only engine metrics as triggers: it never scales up from zero", "spec")


@rule(
    "SCALE003",
    "autoscaler-target-missing",
    Severity.INFO,
    "An autoscaler targets a workload that is not in the manifests",
    why="A typo in scaleTargetRef leaves the autoscaler doing nothing (`FailedGetScale`).",
    fix="Point scaleTargetRef at the workload's kind and name.",
    bad="scaleTargetRef: {kind: Deployment, name: llama-engin}",
    good="scaleTargetRef: {kind: Deployment, name: llama-engine}",
    scope="object",
    kinds=("HorizontalPodAutoscaler", "ScaledObject"),
)
def target_missing(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    if not ctx.pods:
        return
    ref = as_dict(obj.spec.get("scaleTargetRef"))
    if ref.get("name") and _target(ctx, obj) is None:
        yield Hit(
            f"scaleTargetRef {ref.get('kind') or 'Deployment'}/{ref.get('name')} is not in these manifests",
            "spec.scaleTargetRef",
        )


@rule(
    "SCALE004",
    "replicas-with-autoscaler",
    Severity.INFO,
    "A workload managed by an autoscaler also sets spec.replicas",
    why="Every `kubectl apply` resets the replica count to the manifest's value, undoing the autoscaler "
    "(and cold-starting GPU replicas).",
    fix="Remove `spec.replicas` from autoscaled workloads (or apply with server-side apply field ownership).",
    bad="kind: Deployment\nspec: {replicas: 1}   # and an HPA targets it",
    good="kind: Deployment\nspec: {}   # replicas owned by the HPA",
    scope="object",
    kinds=("HorizontalPodAutoscaler", "ScaledObject"),
)
def replicas_with_autoscaler(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    target = _target(ctx, obj)
    if target is not None and "replicas" in target.spec:
        yield Hit(
            f"{target.kind} {target.name!r} sets spec.replicas but is scaled by {obj.kind} {obj.name!r}",
            "spec.scaleTargetRef",
        )


@rule(
    "SCALE005",
    "autoscaler-min-equals-max",
    Severity.INFO,
    "An autoscaler has the same minimum and maximum",
    why="It can never scale; the object only adds confusion.",
    fix="Raise maxReplicas, or remove the autoscaler and set replicas.",
    bad="spec: {minReplicas: 2, maxReplicas: 2}",
    good="spec: {minReplicas: 1, maxReplicas: 4}",
    scope="object",
    kinds=("HorizontalPodAutoscaler", "ScaledObject"),
)
def min_equals_max(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    lo_key, hi_key = (
        ("minReplicaCount", "maxReplicaCount")
        if obj.kind == "ScaledObject"
        else ("minReplicas", "maxReplicas")
    )
    lo, hi = obj.spec.get(lo_key, 1), obj.spec.get(hi_key)
    if isinstance(hi, int) and lo == hi:
        yield Hit(f"{lo_key} and {hi_key} are both {hi}", f"spec.{hi_key}")


_METRIC_WITH_SELECTOR = re.compile(
    r"((?:vllm|sglang|tgi|llamacpp|nv_inference|ollama)[:_][A-Za-z0-9_:]*)\s*(\{[^}]*\})?"
)


@rule(
    "SCALE006",
    "keda-query-unscoped",
    Severity.WARNING,
    "A KEDA Prometheus trigger reads an engine metric without selecting the workload's pods",
    why="`sum(vllm:num_requests_waiting)` adds up every vLLM server Prometheus scrapes: another team's (or another "
    "model's) queue scales this workload, and its own queue is diluted by theirs.",
    fix='Select the workload\'s series in the query: `sum(vllm:num_requests_waiting{namespace="llm", '
    'model_name="llama"})` (or by pod, service or job label).',
    bad="query: sum(vllm:num_requests_waiting)",
    good='query: sum(vllm:num_requests_waiting{namespace="llm", model_name="llama"})',
    scope="object",
    kinds=("ScaledObject",),
)
def keda_query_unscoped(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    for i, trigger in enumerate(as_list(obj.spec.get("triggers"))):
        trigger = as_dict(trigger)
        query = str(as_dict(trigger.get("metadata")).get("query") or "")
        if trigger.get("type") != "prometheus" or not query:
            continue
        for metric, selector in _METRIC_WITH_SELECTOR.findall(query):
            if not selector.strip("{} "):
                yield Hit(
                    f"query reads {metric} from every server Prometheus scrapes: {query.strip()!r}",
                    f"spec.triggers[{i}].metadata.query",
                )
                break
