"""The kubellm gateway in front of the engines: its config (ConfigMap), Deployment, Service, Ingress/HTTPRoute.

The config is a ``GatewayConfig`` (kubellm.spec.gateway) built from the spec and dumped with
``model_dump(mode="json")``: one pool for the served model, discovered by DNS of the engine's
headless Service, with the spec's routing, limits and cold-start hold.
"""

from __future__ import annotations

from typing import Any

from kubellm.render.context import (
    GATEWAY_CONFIG_PATH,
    GATEWAY_KEYS_DIR,
    GATEWAY_PORT,
    RenderContext,
)
from kubellm.render.gateway_config import engine_pool
from kubellm.render.gateway_config import gateway_config as build_gateway_config
from kubellm.render.images import GATEWAY_IMAGE
from kubellm.render.output import dump_plain
from kubellm.render.placement import spread
from kubellm.render.security import container_security, pod_security
from kubellm.spec.gateway import DnsBackends, GatewayConfig, HealthCheckConfig, ListenConfig

Obj = dict[str, Any]
DRAIN_S = 30
PRESTOP_S = 10


def gateway_config(ctx: RenderContext) -> GatewayConfig:
    """The cluster gateway's config: one pool found by DNS of the engines' headless Service."""
    pool = engine_pool(
        ctx.spec,
        ctx.plan,
        DnsBackends(name=ctx.engine_dns, port=ctx.adapter.port),
        ctx.adapter.table,
    )
    return build_gateway_config(
        ctx.spec,
        [pool],
        listen=ListenConfig(host="0.0.0.0", port=GATEWAY_PORT),
        health=HealthCheckConfig(path=ctx.adapter.gateway_health_path),
        api_keys_file=f"{GATEWAY_KEYS_DIR}/keys" if ctx.spec.security.api_key_secret else None,
        drain_timeout_s=float(DRAIN_S),
    )


def gateway_configmap(ctx: RenderContext, config: GatewayConfig | None = None) -> Obj:
    data = (config or gateway_config(ctx)).model_dump(mode="json")
    text = dump_plain(data)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta(ctx.gateway_name, "gateway"),
        "data": {"gateway.yaml": text},
    }


def gateway_deployment(ctx: RenderContext, config_text: str) -> Obj:
    spec = ctx.spec
    mounts: list[Obj] = [
        {
            "name": "config",
            "mountPath": "/etc/kubellm/gateway.yaml",
            "subPath": "gateway.yaml",
            "readOnly": True,
        },
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[Obj] = [
        {"name": "config", "configMap": {"name": ctx.gateway_name}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if spec.security.api_key_secret:
        mounts.append({"name": "api-keys", "mountPath": GATEWAY_KEYS_DIR, "readOnly": True})
        volumes.append(
            {"name": "api-keys", "secret": {"secretName": spec.security.api_key_secret, "defaultMode": 0o400}}
        )
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5}
    container: Obj = {
        "name": "gateway",
        "image": ctx.options.gateway_image or spec.gateway.image or GATEWAY_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["kubellm", "gateway", "--config", GATEWAY_CONFIG_PATH],
        "ports": [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}],
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "PYTHONUNBUFFERED", "value": "1"}],
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "256Mi"},
            "limits": {"cpu": "2", "memory": "512Mi", "ephemeral-storage": "256Mi"},
        },
        "readinessProbe": {**probe, "httpGet": {"path": "/ready", "port": "http"}, "failureThreshold": 3},
        "livenessProbe": {**probe, "failureThreshold": 3},
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_S)]}}},
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }
    pod: Obj = {
        "serviceAccountName": ctx.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(spec.security.run_as_user),
        "terminationGracePeriodSeconds": PRESTOP_S + DRAIN_S + 5,
        "topologySpreadConstraints": spread(ctx, ctx.selector("gateway"))
        or [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": ctx.selector("gateway")},
            }
        ],
        "containers": [container],
        "volumes": volumes,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.meta(ctx.gateway_name, "gateway"),
        "spec": {
            "replicas": spec.gateway.replicas,
            "selector": {"matchLabels": ctx.selector("gateway")},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "revisionHistoryLimit": 3,
            "template": {
                "metadata": {
                    "labels": ctx.labels("gateway"),
                    # Roll the gateway when its config changes.
                    "annotations": {"kubellm.dev/config-hash": _config_hash(config_text)},
                },
                "spec": pod,
            },
        },
    }


def _config_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def gateway_service(ctx: RenderContext) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.meta(ctx.gateway_name, "gateway"),
        "spec": {
            "type": "ClusterIP",
            "selector": ctx.selector("gateway"),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _tls_secret(ctx: RenderContext) -> str:
    return ctx.spec.gateway.tls_secret or f"{ctx.name}-tls"


def ingress(ctx: RenderContext) -> Obj:
    g = ctx.spec.gateway
    assert g.host is not None
    annotations: dict[str, str] = {}
    if g.cert_manager_issuer:
        annotations["cert-manager.io/cluster-issuer"] = g.cert_manager_issuer
    meta = ctx.meta(ctx.gateway_name, "gateway")
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta,
        "spec": {
            "tls": [{"hosts": [g.host], "secretName": _tls_secret(ctx)}],
            "rules": [
                {
                    "host": g.host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": ctx.gateway_name, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def http_route(ctx: RenderContext) -> Obj:
    """Gateway API route; TLS terminates on the parent Gateway (its listener holds the certificate)."""
    g = ctx.spec.gateway
    assert g.host is not None and g.gateway_ref is not None
    parent_ns, parent = ctx.gateway_parent()
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": ctx.meta(ctx.gateway_name, "gateway"),
        "spec": {
            "parentRefs": [{"name": parent, "namespace": parent_ns, "sectionName": "https"}],
            "hostnames": [g.host],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [{"name": ctx.gateway_name, "port": 80}],
                }
            ],
        },
    }


def gateway_objects(ctx: RenderContext, config: GatewayConfig | None = None) -> list[Obj]:
    """The gateway of one service, or (with ``config``) the shared gateway of a namespace's services."""
    if config is None and not ctx.renders_gateway:
        return []
    configmap = gateway_configmap(ctx, config)
    out = [configmap, gateway_deployment(ctx, configmap["data"]["gateway.yaml"]), gateway_service(ctx)]
    if ctx.spec.gateway.host:
        out.append(http_route(ctx) if ctx.spec.gateway.ingress == "httproute" else ingress(ctx))
    return out
