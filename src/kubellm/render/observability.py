"""ServiceMonitors, the LLM-serving alerts (PrometheusRule) and a Grafana dashboard ConfigMap."""

from __future__ import annotations

import json
from typing import Any

from kubellm.render.autoscaling import GATEWAY_PENDING_METRIC, _with_labels
from kubellm.render.context import RenderContext

Obj = dict[str, Any]


def service_monitors(ctx: RenderContext) -> list[Obj]:
    if not ctx.spec.observability.service_monitor:
        return []
    m = ctx.adapter.metrics
    out = [
        _monitor(ctx, ctx.engine_service, "engine", m.port_name, m.path),
    ]
    if ctx.renders_gateway:
        out.append(gateway_monitor(ctx))
    return out


def gateway_monitor(ctx: RenderContext) -> Obj:
    return _monitor(ctx, ctx.gateway_name, "gateway", "http", "/metrics")


def _monitor(ctx: RenderContext, name: str, component: str, port: str, path: str) -> Obj:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": ctx.meta(name, component),
        "spec": {
            "selector": {"matchLabels": ctx.selector(component)},
            "namespaceSelector": {"matchNames": [ctx.namespace]},
            "endpoints": [{"port": port, "path": path, "interval": "15s", "scrapeTimeout": "10s"}],
        },
    }


def _where(ctx: RenderContext) -> str:
    return f'namespace="{ctx.namespace}",service="{ctx.engine_service}"'


def _pods(ctx: RenderContext) -> str:
    return f'namespace="{ctx.namespace}",pod=~"{ctx.name}-.*"'


def alert_rules(ctx: RenderContext) -> list[Obj]:
    m = ctx.adapter.metrics
    where = _where(ctx)
    labels = {"severity": "warning", "service": ctx.name}
    critical = {"severity": "critical", "service": ctx.name}
    rules: list[Obj] = []
    if m.kv_usage is not None:
        rules.append(
            {
                "alert": "LLMKVCacheNearlyFull",
                "expr": f"max({_with_labels(m.kv_usage, where)}) * {m.kv_usage_scale:g} > 0.9",
                "for": "5m",
                "labels": labels,
                "annotations": {
                    "summary": f"{ctx.name}: KV cache above 90 % for 5 minutes",
                    "description": "Requests are being preempted or queued; add replicas or lower max_num_seqs.",
                },
            }
        )
    queue = f"sum({_with_labels(m.queue, where)})"
    rules.append(
        {
            "alert": "LLMQueueGrowing",
            "expr": f"deriv({queue}[10m]) > 0 and {queue} > {ctx.spec.scaling.target:g}",
            "for": "10m",
            "labels": labels,
            "annotations": {
                "summary": f"{ctx.name}: engine queue has been growing for 10 minutes",
                "description": "Load exceeds capacity; check that the autoscaler can add replicas (GPU quota, nodes).",
            },
        }
    )
    up = f"up{{{where}}}"
    no_ready = f"(sum({up}) or vector(0)) == 0"
    if ctx.spec.scaling.scale_to_zero:
        pending = f'sum({GATEWAY_PENDING_METRIC}{{namespace="{ctx.namespace}",pool="{ctx.served_name}"}})'
        no_ready = f"{no_ready} and on() {pending} > 0"
    rules.append(
        {
            "alert": "LLMNoReadyReplica",
            "expr": no_ready,
            "for": "10m",
            "labels": critical,
            "annotations": {
                "summary": f"{ctx.name}: no engine replica is serving",
                "description": "Every request fails or waits; check pod events (GPU capacity, image pull, startup probe).",
            },
        }
    )
    rules.append(
        {
            "alert": "LLMEngineRestarting",
            "expr": f"increase(kube_pod_container_status_restarts_total{{{_pods(ctx)}}}[15m]) > 0",
            "for": "0m",
            "labels": labels,
            "annotations": {
                "summary": f"{ctx.name}: an engine container restarted",
                "description": "Check the previous logs; restarts during load usually mean a short startup probe or OOM.",
            },
        }
    )
    rules.append(
        {
            "alert": "LLMEngineOOMKilled",
            "expr": f'max(kube_pod_container_status_last_terminated_reason{{{_pods(ctx)},reason="OOMKilled"}}) > 0',
            "for": "0m",
            "labels": critical,
            "annotations": {
                "summary": f"{ctx.name}: a container was OOMKilled",
                "description": "Host memory is too small for loading the weights; raise the memory limit.",
            },
        }
    )
    if ctx.on_gpu:
        rules.append(
            {
                "alert": "LLMGpuUtilizationLow",
                "expr": f"avg(DCGM_FI_DEV_GPU_UTIL{{{_pods(ctx)}}}) < 10",
                "for": "2h",
                "labels": {"severity": "info", "service": ctx.name},
                "annotations": {
                    "summary": f"{ctx.name}: GPUs under 10 % busy for 2 hours (DCGM)",
                    "description": "Paid GPUs sit idle; lower min_replicas, enable scale_to_zero or share the GPU.",
                },
            }
        )
    return rules


def prometheus_rule(ctx: RenderContext) -> Obj | None:
    if not ctx.spec.observability.alerts:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": ctx.meta(ctx.name, "monitoring"),
        "spec": {"groups": [{"name": f"kubellm.{ctx.name}", "rules": alert_rules(ctx)}]},
    }


def _panel(panel_id: int, title: str, expr: str, unit: str, x: int, y: int) -> Obj:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"expr": expr, "refId": "A"}],
    }


def dashboard(ctx: RenderContext) -> Obj | None:
    if not ctx.spec.observability.dashboard:
        return None
    m = ctx.adapter.metrics
    where = _where(ctx)
    panels = [
        ("Waiting requests", f"sum({_with_labels(m.queue, where)})", "short"),
        ("Running requests", f"sum({_with_labels(m.running, where)})", "short"),
        ("Ready engine replicas", f"sum(up{{{where}}})", "short"),
    ]
    if m.kv_usage is not None:
        panels.append(
            (
                "KV-cache usage",
                f"max({_with_labels(m.kv_usage, where)}) * {m.kv_usage_scale:g}",
                "percentunit",
            )
        )
    if ctx.spec.gateway.enabled and ctx.spec.gateway.kind == "kubellm":
        panels.append(
            (
                "Gateway pending requests",
                f'sum({GATEWAY_PENDING_METRIC}{{namespace="{ctx.namespace}",pool="{ctx.served_name}"}})',
                "short",
            )
        )
    if ctx.on_gpu:
        panels.append(("GPU utilization (DCGM)", f"avg(DCGM_FI_DEV_GPU_UTIL{{{_pods(ctx)}}})", "percent"))
    board = {
        "title": f"kubellm / {ctx.name}",
        "uid": f"kubellm-{ctx.name}"[:40],
        "schemaVersion": 39,
        "tags": ["kubellm", ctx.adapter.name],
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": [_panel(i + 1, t, e, u, (i % 2) * 12, (i // 2) * 8) for i, (t, e, u) in enumerate(panels)],
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta(f"{ctx.name}-dashboard", "monitoring", annotations={"grafana_folder": "kubellm"})
        | {"labels": {**ctx.labels("monitoring"), "grafana_dashboard": "1"}},
        "data": {f"kubellm-{ctx.name}.json": json.dumps(board, indent=1, sort_keys=True)},
    }
