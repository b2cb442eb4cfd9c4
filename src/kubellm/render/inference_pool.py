"""Gateway API Inference Extension: an InferencePool over the engines, the upstream endpoint picker, a route.

For ``gateway.kind: inference-extension``, on clusters whose Gateway implementation routes to an
InferencePool (GKE, Istio, kgateway, Envoy Gateway), instead of kubellm's own gateway. The objects
follow the upstream ``inferencepool`` Helm chart of gateway-api-inference-extension v1.5.0 (the last
release that ships its endpoint picker, EPP): the InferencePool (``inference.networking.k8s.io/v1``)
selecting the engine pods on the engine port, the EPP Deployment (pinned image, the chart's flags,
probes, resources and default scheduling profile — queue, KV-cache and prefix-cache scorers), its
Service (ext-proc gRPC 9002, metrics 9090), ServiceAccount and the namespaced RBAC it needs, and an
HTTPRoute from ``gateway.gateway_ref`` to the pool. Hardened as every kubellm pod is.
"""

from __future__ import annotations

import copy
from typing import Any

from kubellm.render.context import RenderContext
from kubellm.render.images import EPP_IMAGE
from kubellm.render.network import DNS_EGRESS, NS_LABEL, _monitoring_peer, _policy, engine_selector
from kubellm.render.output import dump_plain
from kubellm.render.security import container_security, pod_security

Obj = dict[str, Any]

POOL_GROUP = "inference.networking.k8s.io"
EXT_PROC_PORT = 9002
HEALTH_PORT = 9003
METRICS_PORT = 9090
COMPONENT = "endpoint-picker"
CONFIG_FILE = "default-plugins.yaml"
ROUTE_TIMEOUT = "300s"  # the chart's request timeout (long generations)


def picker_name(ctx: RenderContext) -> str:
    return f"{ctx.name}-epp"


def gateway_parent(ctx: RenderContext) -> Obj:
    namespace, name = ctx.gateway_parent()
    return {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name, "namespace": namespace}


def plugins_config(ctx: RenderContext) -> Obj:
    """The chart's default EndpointPickerConfig, for the engine whose metrics the picker reads."""
    extractor: Obj = {"type": "core-metrics-extractor"}
    if ctx.adapter.name != "vllm":
        extractor["parameters"] = {"defaultEngine": ctx.adapter.name}
    return {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [
            {"type": "queue-scorer"},
            {"type": "kv-cache-utilization-scorer"},
            {"type": "prefix-cache-scorer"},
            {
                "type": "metrics-data-source",
                "parameters": {"scheme": "http", "path": "/metrics", "insecureSkipVerify": True},
            },
            extractor,
        ],
        "schedulingProfiles": [
            {
                "name": "default",
                "plugins": [
                    {"pluginRef": "queue-scorer", "weight": 2},
                    {"pluginRef": "kv-cache-utilization-scorer", "weight": 2},
                    {"pluginRef": "prefix-cache-scorer", "weight": 3},
                ],
            }
        ],
    }


def inference_pool(ctx: RenderContext) -> Obj:
    return {
        "apiVersion": f"{POOL_GROUP}/v1",
        "kind": "InferencePool",
        "metadata": ctx.meta(ctx.name, "engine"),
        "spec": {
            "targetPorts": [{"number": ctx.adapter.port}],
            "appProtocol": "http",
            "selector": {"matchLabels": engine_selector(ctx)},
            "endpointPickerRef": {
                "name": picker_name(ctx),
                "port": {"number": EXT_PROC_PORT},
                "failureMode": "FailOpen",
            },
        },
    }


# What the picker reads through the API (the upstream chart's Role). Whoever creates this Role must hold
# every one of these permissions itself (RBAC's escalation check): the operator's ClusterRole includes them.
PICKER_RULES: tuple[Obj, ...] = (
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]},
    {"apiGroups": [POOL_GROUP], "resources": ["inferencepools"], "verbs": ["get", "watch", "list"]},
    {
        "apiGroups": ["inference.networking.x-k8s.io"],
        "resources": ["inferenceobjectives", "inferencemodelrewrites"],
        "verbs": ["get", "watch", "list"],
    },
)


def _rbac(ctx: RenderContext) -> list[Obj]:
    name = picker_name(ctx)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": ctx.meta(name, COMPONENT),
        "rules": copy.deepcopy(list(PICKER_RULES)),
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": ctx.meta(name, COMPONENT),
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ctx.namespace}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
    }
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": ctx.meta(name, COMPONENT)}
    return [account, role, binding]


def _container(ctx: RenderContext) -> Obj:
    grpc_probe = {"grpc": {"port": HEALTH_PORT, "service": "inference-extension"}}
    return {
        "name": "epp",
        "image": EPP_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "--pool-name",
            ctx.name,
            "--pool-namespace",
            ctx.namespace,
            "--pool-group",
            POOL_GROUP,
            "--zap-encoder",
            "json",
            "--config-file",
            f"/config/{CONFIG_FILE}",
            "--v",
            "1",
            "--tracing=false",
        ],
        "ports": [
            {"name": "grpc", "containerPort": EXT_PROC_PORT, "protocol": "TCP"},
            {"name": "grpc-health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "env": [
            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        # the chart's sizing (p90 scheduling within 100 ms at high QPS): CPU unbounded for bursts
        "resources": {"requests": {"cpu": "4", "memory": "8Gi"}, "limits": {"memory": "16Gi"}},
        "livenessProbe": {**grpc_probe, "initialDelaySeconds": 5, "periodSeconds": 10},
        "readinessProbe": {**grpc_probe, "periodSeconds": 2},
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "config", "mountPath": "/config", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def endpoint_picker(ctx: RenderContext) -> list[Obj]:
    """The EPP: its config, identity and RBAC, Deployment (one active replica, as upstream recommends) and Service."""
    name = picker_name(ctx)
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta(name, COMPONENT),
        "data": {CONFIG_FILE: dump_plain(plugins_config(ctx))},
    }
    # the picker watches its pool and the pool's pods through the API: its token is mounted on purpose
    meta = ctx.meta(name, COMPONENT, annotations={"kubellm.dev/lint-ignore": "SEC010"})
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": ctx.selector(COMPONENT)},
            "template": {
                "metadata": {"labels": ctx.labels(COMPONENT)},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": True,  # it watches the pool and its pods
                    "terminationGracePeriodSeconds": 130,
                    "securityContext": pod_security(ctx.spec.security.run_as_user),
                    "containers": [_container(ctx)],
                    "volumes": [
                        {"name": "config", "configMap": {"name": name}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.meta(name, COMPONENT),
        "spec": {
            "selector": ctx.selector(COMPONENT),
            "ports": [
                {"name": "grpc-ext-proc", "port": EXT_PROC_PORT, "targetPort": "grpc", "protocol": "TCP"},
                {"name": "http-metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }
    return [*_rbac(ctx), config, deployment, service]


def pool_route(ctx: RenderContext) -> Obj:
    rule: Obj = {
        "backendRefs": [{"group": POOL_GROUP, "kind": "InferencePool", "name": ctx.name}],
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "timeouts": {"request": ROUTE_TIMEOUT},
    }
    spec: Obj = {"parentRefs": [gateway_parent(ctx)], "rules": [rule]}
    if ctx.spec.gateway.host:
        spec["hostnames"] = [ctx.spec.gateway.host]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": ctx.meta(ctx.name, COMPONENT),
        "spec": spec,
    }


def picker_policy(ctx: RenderContext) -> Obj:
    """The Gateway's proxies call the picker (ext-proc); it reads the engines' metrics and watches the API."""
    proxies = [{"namespaceSelector": {"matchLabels": {NS_LABEL: ctx.gateway_parent()[0]}}}]
    ingress: list[Obj] = [{"from": proxies, "ports": [{"protocol": "TCP", "port": EXT_PROC_PORT}]}]
    if ctx.spec.observability.service_monitor:
        ingress.append({"from": [_monitoring_peer()], "ports": [{"protocol": "TCP", "port": METRICS_PORT}]})
    engines = [{"podSelector": {"matchLabels": engine_selector(ctx)}}]
    engine_ports = [{"protocol": "TCP", "port": p["containerPort"]} for p in ctx.adapter.ports()]
    # the API server's address is the cluster's own: allow its usual ports
    api_server = {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}
    egress = [DNS_EGRESS, {"to": engines, "ports": engine_ports}, api_server]
    return _policy(ctx, picker_name(ctx), COMPONENT, ctx.selector(COMPONENT), ingress, egress)


def inference_extension_objects(ctx: RenderContext) -> list[Obj]:
    """Every object of gateway.kind: inference-extension (none for kubellm's own gateway)."""
    if not ctx.inference_pool:
        return []
    return [inference_pool(ctx), *endpoint_picker(ctx), pool_route(ctx), picker_policy(ctx)]
