"""Where the autoscaler reads the load signal: ``observability.prometheus_url`` and how to authenticate to it.

KEDA's Prometheus trigger takes the URL as ``serverAddress``; managed services authenticate with the
KEDA operator's cloud identity through a TriggerAuthentication (``podIdentity`` gcp for Google Cloud
Managed Service for Prometheus, aws for Amazon Managed Service for Prometheus — with the region from the
workspace URL —, azure-workload for Azure Monitor), and OpenShift's Thanos Querier with a bearer token
from a Secret (plus the ``namespace`` parameter its tenancy port needs). The Prometheus Adapter (HPA path)
gets the URL, port and token in Helm values beside its rules; it cannot sign cloud requests, so a managed
service behind it needs the provider's query proxy.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from kubellm.errors import UsageError
from kubellm.render.context import RenderContext

Obj = dict[str, Any]

POD_IDENTITY = {"gcp": "gcp", "aws": "aws", "azure": "azure-workload"}
TOKEN_DIR = "/var/run/prometheus"
_AMP_REGION = re.compile(r"aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com")


def auth_name(ctx: RenderContext) -> str:
    return f"{ctx.name}-prometheus"


def trigger_authentication(ctx: RenderContext) -> Obj | None:
    """The TriggerAuthentication a KEDA Prometheus trigger needs (None without authentication)."""
    obs = ctx.spec.observability
    if obs.prometheus_auth == "none":
        return None
    if obs.prometheus_auth == "bearer":
        spec: Obj = {
            "secretTargetRef": [
                {"parameter": "bearerToken", "name": str(obs.prometheus_auth_secret), "key": "token"}
            ]
        }
    else:
        spec = {"podIdentity": {"provider": POD_IDENTITY[obs.prometheus_auth]}}
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": ctx.meta(auth_name(ctx), "autoscaling"),
        "spec": spec,
    }


def trigger_access(ctx: RenderContext) -> tuple[dict[str, str], Obj | None]:
    """(extra trigger metadata, authenticationRef) of the Prometheus trigger."""
    obs = ctx.spec.observability
    metadata: dict[str, str] = {"serverAddress": obs.prometheus_url}
    if obs.prometheus_auth == "none":
        return metadata, None
    if obs.prometheus_auth == "bearer":
        metadata.update({"authModes": "bearer", "namespace": ctx.namespace})
    if obs.prometheus_auth == "aws":
        region = _AMP_REGION.search(obs.prometheus_url)
        if region is None:
            raise UsageError(
                f"observability.prometheus_url {obs.prometheus_url}: prometheus_auth aws expects an Amazon Managed "
                "Service for Prometheus workspace URL",
                "use https://aps-workspaces.<region>.amazonaws.com/workspaces/<workspace id>",
            )
        metadata["awsRegion"] = region.group(1)
    return metadata, {"name": auth_name(ctx)}


def adapter_values(ctx: RenderContext, rules: Obj) -> Obj:
    """Helm values for the prometheus-community/prometheus-adapter chart: where Prometheus is, and the rules."""
    obs = ctx.spec.observability
    if obs.prometheus_auth in POD_IDENTITY:
        raise UsageError(
            f"scaling.autoscaler hpa with observability.prometheus_auth {obs.prometheus_auth}: the Prometheus Adapter "
            "cannot authenticate to a managed Prometheus with a cloud identity",
            "use scaling.autoscaler: keda (its TriggerAuthentication uses the cloud identity), or point "
            "prometheus_url at the provider's query proxy (e.g. GMP's frontend) with prometheus_auth: none",
        )
    parts = urlsplit(obs.prometheus_url)
    default_port = 443 if parts.scheme == "https" else 80
    values: Obj = {
        "prometheus": {
            "url": f"{parts.scheme}://{parts.hostname}",
            "port": parts.port or default_port,
            "path": parts.path.rstrip("/"),
        },
        "rules": rules,
    }
    if obs.prometheus_auth == "bearer":
        values["extraArguments"] = [f"--prometheus-token-file={TOKEN_DIR}/token"]
        values["extraVolumes"] = [
            {"name": "prometheus-token", "secret": {"secretName": obs.prometheus_auth_secret}}
        ]
        values["extraVolumeMounts"] = [{"name": "prometheus-token", "mountPath": TOKEN_DIR, "readOnly": True}]
    return values
