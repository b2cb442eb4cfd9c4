"""Autoscaling on a queue signal (never CPU, M28): KEDA ScaledObject, or HPA v2 + a Prometheus Adapter rule.

Stabilization comes from the planned startup time: a new replica takes ``load_s`` to absorb load,
so scale-up waits about half of that before adding more, and adds at most a quarter of the maximum
per startup period. Scale-to-zero only works on the gateway's pending-requests metric, because
engine metrics vanish with the last replica (the spec enforces it).
"""

from __future__ import annotations

import math
from typing import Any

from kubellm.errors import UsageError
from kubellm.render.context import RenderContext
from kubellm.render.metrics_source import adapter_values, trigger_access, trigger_authentication
from kubellm.render.workload import LWS_API, autoscaled, workload_kind

Obj = dict[str, Any]

# The gateway's gauges per pool: requests held while no backend is ready (scale from zero), and
# requests in flight per backend. Their sum is the pool's load, at zero replicas and above.
GATEWAY_PENDING_METRIC = "kubellm_pool_pending_requests"
GATEWAY_OUTSTANDING_METRIC = "kubellm_gateway_backend_outstanding_requests"


def gateway_load_query(matchers: str) -> str:
    """PromQL of a pool's requests held plus in flight (0 when either gauge has no series)."""
    held = f"(sum({GATEWAY_PENDING_METRIC}{{{matchers}}}) or vector(0))"
    in_flight = f"(sum({GATEWAY_OUTSTANDING_METRIC}{{{matchers}}}) or vector(0))"
    return f"{held} + {in_flight}"


def scale_up_window_s(ctx: RenderContext) -> int:
    configured = ctx.spec.scaling.scale_up_stabilization_s
    if configured is not None:
        return configured
    return max(30, min(300, ctx.plan.probes.load_s // 2))


def scale_up_period_s(ctx: RenderContext) -> int:
    return max(60, min(1800, ctx.plan.probes.load_s))


def _target_ref(ctx: RenderContext) -> Obj:
    kind = workload_kind(ctx)
    return {"apiVersion": LWS_API if kind == "LeaderWorkerSet" else "apps/v1", "kind": kind, "name": ctx.name}


def _behavior(ctx: RenderContext) -> Obj:
    step = max(1, math.ceil(ctx.spec.scaling.max_replicas / 4))
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": scale_up_window_s(ctx),
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": step, "periodSeconds": scale_up_period_s(ctx)}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": ctx.spec.scaling.scale_down_stabilization_s,
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
        },
    }


def metric_query(ctx: RenderContext) -> str:
    """PromQL of the scaling signal summed over the service (the per-replica target divides it)."""
    metric = ctx.spec.scaling.metric
    where = f'namespace="{ctx.namespace}",service="{ctx.engine_service}"'
    m = ctx.adapter.metrics
    if metric == "gateway-pending":
        return gateway_load_query(f'namespace="{ctx.namespace}",pool="{ctx.served_name}"')
    if metric == "kv-cache":
        if m.kv_usage is None:
            raise UsageError(
                f"scaling.metric kv-cache: {ctx.adapter.name} exports no KV-cache usage metric",
                "use scaling.metric: queue (or running)",
            )
        return f"sum({_with_labels(m.kv_usage, where)})"
    selector = m.queue if metric == "queue" else m.running
    return f"sum({_with_labels(selector, where)})"


def _with_labels(selector: str, where: str) -> str:
    """Add label matchers to 'name' or 'name{a="b"}'."""
    if selector.endswith("}"):
        return selector[:-1] + "," + where + "}"
    return selector + "{" + where + "}"


def scaled_object(ctx: RenderContext) -> Obj:
    s = ctx.spec.scaling
    access, auth_ref = trigger_access(ctx)
    trigger: Obj = {
        "type": "prometheus",
        "name": "load",
        "metricType": "AverageValue",
        "metadata": {
            **access,
            "query": metric_query(ctx),
            "threshold": _num(s.target),
            "activationThreshold": "0",
            "ignoreNullValues": "true" if s.metric == "gateway-pending" else "false",
        },
    }
    if auth_ref is not None:
        trigger["authenticationRef"] = auth_ref
    triggers: list[Obj] = [trigger]
    if s.off_hours_cron:
        start, end = cron_window(s.off_hours_cron)
        triggers.append(
            {
                "type": "cron",
                "name": "working-hours",
                "metadata": {
                    "timezone": "UTC",
                    "start": start,
                    "end": end,
                    "desiredReplicas": str(max(1, s.min_replicas)),
                },
            }
        )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": ctx.meta(ctx.name, "engine"),
        "spec": {
            "scaleTargetRef": _target_ref(ctx),
            "minReplicaCount": 0 if s.scale_to_zero else s.min_replicas,
            "maxReplicaCount": s.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": max(300, s.scale_down_stabilization_s),
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _behavior(ctx)}},
            "triggers": triggers,
        },
    }


def cron_window(value: str) -> tuple[str, str]:
    """'START to END' (two 5-field cron expressions) → (start, end)."""
    start, sep, end = value.partition(" to ")
    if not sep or len(start.split()) != 5 or len(end.split()) != 5:
        raise UsageError(
            f"scaling.off_hours_cron {value!r} is not a window",
            "write 'START to END' with two cron expressions, e.g. '0 8 * * 1-5 to 0 20 * * 1-5'",
        )
    return start.strip(), end.strip()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def adapter_metric_name(ctx: RenderContext) -> str:
    """The name the Prometheus Adapter serves the signal under (custom metrics API)."""
    return f"kubellm_{ctx.name.replace('-', '_')}_{ctx.spec.scaling.metric.replace('-', '_')}"


def hpa(ctx: RenderContext) -> Obj:
    s = ctx.spec.scaling
    if s.scale_to_zero:
        raise UsageError(
            "scaling.scale_to_zero with autoscaler hpa: the HPA cannot scale to zero replicas "
            "(HPAScaleToZero is an alpha feature gate)",
            "set scaling.autoscaler: keda, or scale_to_zero: false",
        )
    metric: Obj
    name = adapter_metric_name(ctx)
    if s.metric == "gateway-pending":
        metric = {
            "type": "External",
            "external": {
                "metric": {"name": name},
                "target": {"type": "AverageValue", "averageValue": _num(s.target)},
            },
        }
    else:
        # Per pod: the adapter serves the engine metric of each pod; the HPA averages over the pods.
        metric = {
            "type": "Pods",
            "pods": {
                "metric": {"name": name},
                "target": {"type": "AverageValue", "averageValue": _num(s.target)},
            },
        }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": ctx.meta(ctx.name, "engine"),
        "spec": {
            "scaleTargetRef": _target_ref(ctx),
            "minReplicas": max(1, s.min_replicas),
            "maxReplicas": s.max_replicas,
            "metrics": [metric],
            "behavior": _behavior(ctx),
        },
    }


def _split(selector: str) -> tuple[str, str]:
    """'name{a="b"}' → ('name', 'a="b"'); 'name' → ('name', '')."""
    name, _, rest = selector.partition("{")
    return name, rest.removesuffix("}")


def adapter_rules(ctx: RenderContext) -> Obj:
    """A Prometheus Adapter rule serving the signal, in a ConfigMap to merge into the adapter's config."""
    import yaml

    s = ctx.spec.scaling
    m = ctx.adapter.metrics
    if s.metric == "gateway-pending":
        series, extra = GATEWAY_PENDING_METRIC, f'pool="{ctx.served_name}"'
    else:
        metric_query(ctx)  # raises for a signal the engine lacks
        chosen = {"queue": m.queue, "running": m.running, "kv-cache": m.kv_usage or ""}[s.metric]
        series, extra = _split(chosen)
    scope = f'namespace="{ctx.namespace}"' + (
        "" if s.metric == "gateway-pending" else f',service="{ctx.engine_service}"'
    )
    matchers = "<<.LabelMatchers>>" + (f",{extra}" if extra else "")
    metrics_query = f'sum({{__name__="<<.Series>>",{matchers}}}) by (<<.GroupBy>>)'
    if s.metric == "gateway-pending":
        metrics_query = gateway_load_query(matchers)
    rule: Obj = {
        "seriesQuery": f"{series}{{{scope}}}",
        "name": {"matches": f"^{series}$", "as": adapter_metric_name(ctx)},
        "metricsQuery": metrics_query,
    }
    if s.metric == "gateway-pending":
        kind = "externalRules"
        rule["resources"] = {"overrides": {"namespace": {"resource": "namespace"}}}
    else:
        kind = "rules"
        rule["resources"] = {
            "overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        }
    text = yaml.safe_dump({kind: [rule]}, sort_keys=True, width=1000)
    chart_rules = {"default": False, ("external" if kind == "externalRules" else "custom"): [rule]}
    values = yaml.safe_dump(adapter_values(ctx, chart_rules), sort_keys=True, width=1000)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta(f"{ctx.name}-prometheus-adapter-rules", "autoscaling"),
        "data": {"rules.yaml": text, "values.yaml": values},
    }


def autoscaling_objects(ctx: RenderContext) -> list[Obj]:
    if not autoscaled(ctx):
        return []
    if ctx.spec.scaling.autoscaler == "keda":
        auth = trigger_authentication(ctx)
        return [*([auth] if auth is not None else []), scaled_object(ctx)]
    return [hpa(ctx), adapter_rules(ctx)]


def pod_disruption_budgets(ctx: RenderContext, components: tuple[str, ...] | None = None) -> list[Obj]:
    """One per component: voluntary evictions take one pod at a time; unhealthy pods may always go."""
    out = []
    if components is None:
        components = ("engine", *(("gateway",) if ctx.renders_gateway else ()))
    for component in components:
        name = f"{ctx.name}-{component}"
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": ctx.meta(name, component),
                "spec": {
                    "maxUnavailable": 1,
                    "unhealthyPodEvictionPolicy": "AlwaysAllow",
                    "selector": {"matchLabels": ctx.selector(component)},
                },
            }
        )
    return out
