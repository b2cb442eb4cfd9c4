"""The LLMService sections about where and how a service meets the cluster: placement, security, the gateway
in front of it and its observability (re-exported by ``kubellm.spec.service``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from kubellm.spec.base import StrictModel, pinned_image


class Toleration(StrictModel):
    """A Kubernetes toleration."""

    key: str = Field(description="Taint key, e.g. 'nvidia.com/gpu'.")
    operator: Literal["Exists", "Equal"] = Field(default="Exists", description="Exists or Equal.")
    value: str | None = Field(default=None, description="Taint value for operator Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default="NoSchedule", description="Taint effect tolerated; unset tolerates all effects."
    )


class PlacementSection(StrictModel):
    """Where pods may run."""

    provider: Literal["generic", "gke", "eks", "aks", "openshift"] = Field(
        default="generic",
        description="Where the cluster runs: gke, eks, aks, openshift or generic. Chooses the node labels that "
        "name the GPU type (GKE's accelerator label, the instance type on EKS/AKS, GPU feature discovery's product "
        "label on OpenShift), the GPU-pool taints to tolerate, the storage classes that bind, the identity "
        "annotations, and the instance shapes the plan sizes and prices the pods for.",
    )
    gpu_affinity: Literal["required", "preferred", "none"] = Field(
        default="required",
        description="How the GPU type is enforced on nodes: required (node affinity on the provider's label), "
        "preferred, or none (only the GPU resource request; use when the nodes carry no GPU-model label).",
    )
    instance_type: str | None = Field(
        default=None,
        description="Instance shape (VM size) to size and price the pods for, e.g. 'g6.2xlarge' or "
        "'g2-standard-8'; unset = the cheapest shape of the provider that holds the pod.",
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="Extra node labels; the GPU-type label of placement.provider is added from gpu.type.",
    )
    tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu")],
        description="Tolerations; the default tolerates the usual 'nvidia.com/gpu' taint on GPU nodes.",
    )
    spread: Literal["zone", "hostname", "none"] = Field(
        default="hostname", description="Topology spread of replicas: across zones, nodes, or none."
    )
    spot: Literal["avoid", "prefer", "require"] = Field(
        default="avoid", description="Spot/preemptible GPU nodes: avoid (default), prefer, or require."
    )
    priority_class: str | None = Field(default=None, description="PriorityClass for engine pods.")


class SecuritySection(StrictModel):
    """Credentials, identities and network exposure."""

    hf_token_secret: str | None = Field(
        default=None, description="Secret holding the Hugging Face token under key 'token' (gated models)."
    )
    api_key_secret: str | None = Field(
        default=None,
        description="Secret with the gateway's API keys (key 'keys', one 'id:key' per line); unset = open gateway.",
    )
    allowed_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces whose pods may call the gateway (NetworkPolicy); empty = the service's namespace only.",
    )
    egress_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs the prefetch Job may reach besides DNS (e.g. a proxy); empty = any HTTPS (port 443).",
    )
    run_as_user: int = Field(default=1000, ge=1, description="Non-root user id of every container.")
    cloud_identity: str | None = Field(
        default=None,
        description="Cloud identity the service's ServiceAccount acts as, for gs:// and s3:// sources and managed "
        "Prometheus: a Google service account e-mail (GKE Workload Identity), an IAM role ARN (EKS IRSA) or a "
        "managed identity's client id (AKS workload identity).",
    )


class GatewaySection(StrictModel):
    """The OpenAI-compatible gateway in front of the engines."""

    enabled: bool = Field(
        default=True, description="Render and run the kubellm gateway in front of the engines."
    )
    replicas: int = Field(default=2, ge=1, description="Gateway replicas.")
    routing: Literal[
        "round-robin", "least-outstanding", "power-of-two", "prefix-affinity", "session-affinity"
    ] = Field(default="least-outstanding", description="How requests are spread over engine replicas.")
    requests_per_minute: int | None = Field(
        default=None, ge=1, description="Per-key request limit; unset = none."
    )
    tokens_per_minute: int | None = Field(
        default=None, ge=1, description="Per-key token limit; unset = none."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest request body accepted."
    )
    max_tokens_cap: int | None = Field(default=None, ge=1, description="Upper bound applied to 'max_tokens'.")
    cold_start_timeout_s: float = Field(
        default=600.0, gt=0, description="How long requests are held while the pool scales from zero."
    )
    host: str | None = Field(
        default=None, description="Public host name; renders an Ingress/HTTPRoute with TLS when set."
    )
    tls_secret: str | None = Field(default=None, description="TLS Secret for the host.")
    cert_manager_issuer: str | None = Field(
        default=None, description="cert-manager ClusterIssuer that issues the TLS Secret."
    )
    ingress: Literal["ingress", "httproute"] = Field(
        default="ingress", description="Ingress or Gateway API HTTPRoute."
    )
    gateway_ref: str | None = Field(
        default=None,
        description="Gateway API parent 'namespace/name' for ingress: httproute and for kind: inference-extension.",
    )
    kind: Literal["kubellm", "inference-extension"] = Field(
        default="kubellm",
        description="kubellm: kubellm's own gateway routes to the engines. inference-extension: an InferencePool, "
        "the upstream endpoint picker and an HTTPRoute to the pool, for a Gateway that implements the Gateway API "
        "Inference Extension (GKE, Istio, kgateway, Envoy Gateway); needs gateway_ref.",
    )
    image: str | None = Field(
        default=None,
        description="Image of the kubellm gateway, pinned by tag or digest; unset = ghcr.io/kubellm/kubellm:<this "
        "kubellm's version>, which the release workflow builds. Set it to a mirror or your own build.",
    )

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str | None) -> str | None:
        return pinned_image(value, "ghcr.io/kubellm/kubellm:0.1.0")

    @model_validator(mode="after")
    def _picker_needs_a_gateway(self) -> GatewaySection:
        if self.kind == "inference-extension" and not self.gateway_ref:
            raise ValueError(
                "gateway.kind: inference-extension needs gateway.gateway_ref: the 'namespace/name' of a Gateway whose "
                "implementation supports InferencePool (GKE, Istio, kgateway, Envoy Gateway)"
            )
        return self


class ObservabilitySection(StrictModel):
    """Metrics, alerts and dashboards."""

    service_monitor: bool = Field(default=True, description="Render a ServiceMonitor (Prometheus Operator).")
    alerts: bool = Field(default=True, description="Render a PrometheusRule with the LLM serving alerts.")
    dashboard: bool = Field(default=True, description="Render a Grafana dashboard ConfigMap.")
    log_requests: bool = Field(
        default=False, description="Log each request in the engine (off: costly and leaks prompts)."
    )
    prometheus_url: str = Field(
        default="http://prometheus-operated.monitoring.svc:9090",
        description="Prometheus query endpoint the autoscaler reads (KEDA triggers, Prometheus Adapter values): "
        "kube-prometheus-stack's by default; Google Managed Prometheus, Amazon Managed Prometheus, Azure Monitor "
        "or OpenShift's Thanos Querier with prometheus_auth.",
    )
    prometheus_auth: Literal["none", "bearer", "gcp", "aws", "azure"] = Field(
        default="none",
        description="How the autoscaler authenticates to prometheus_url: none, bearer (a token in "
        "prometheus_auth_secret, e.g. OpenShift), or the cloud identity of the KEDA operator (gcp, aws, azure).",
    )
    prometheus_auth_secret: str | None = Field(
        default=None,
        description="Secret with the bearer token (key 'token') for prometheus_auth: bearer.",
    )

    @model_validator(mode="after")
    def _auth_secret(self) -> ObservabilitySection:
        if self.prometheus_auth == "bearer" and not self.prometheus_auth_secret:
            raise ValueError(
                "prometheus_auth bearer needs prometheus_auth_secret: the Secret holding the token under key 'token'"
            )
        if not self.prometheus_url.startswith(("http://", "https://")):
            raise ValueError(f"prometheus_url {self.prometheus_url!r} must be an http:// or https:// URL")
        return self
