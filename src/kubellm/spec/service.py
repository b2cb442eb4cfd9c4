"""The LLMService spec: one declarative description of a self-hosted model service.

Every field is described and defaulted as a careful operator would choose. ``render`` turns the
spec (through the plan) into Kubernetes objects; ``up`` runs it as local processes.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kubellm.spec.base import StrictModel

API_VERSION: Literal["kubellm.dev/v1alpha1"] = "kubellm.dev/v1alpha1"
KIND: Literal["LLMService"] = "LLMService"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def pinned_image(value: str | None, example: str) -> str | None:
    """An image reference pinned by tag (not 'latest') or digest; unpinned ones are refused with an example."""
    if value is None or "@sha256:" in value:
        return value
    last = value.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        raise ValueError(f"image {value!r} is not pinned: add a tag (e.g. '{example}') or a digest")
    return value


class EngineName(StrEnum):
    """Serving engines kubellm plans for and renders."""

    VLLM = "vllm"
    SGLANG = "sglang"
    TGI = "tgi"
    TRTLLM = "trtllm"
    LLAMACPP = "llamacpp"


class GpuSharing(StrEnum):
    """How one physical GPU is shared between pods."""

    EXCLUSIVE = "exclusive"
    TIME_SLICING = "time-slicing"
    MPS = "mps"
    MIG = "mig"


class Metadata(StrictModel):
    """Names and labels of the service's objects."""

    name: str = Field(
        description="Name of the service; prefix of every rendered object (a DNS label, ≤ 40 characters)."
    )
    namespace: str = Field(default="llm", description="Kubernetes namespace the service is deployed into.")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels put on every rendered object."
    )
    namespace_only: bool = Field(
        default=False,
        description="Deploy with rights in the namespace only (e.g. a RoleBinding to ClusterRole edit): no "
        "Namespace object, no cluster-scoped objects, no ResourceQuota (the namespace's admin sets it); "
        "`kubellm apply --no-namespace` does the same for one apply.",
    )

    @field_validator("name", "namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if len(value) > 40 or not _DNS_LABEL.match(value):
            raise ValueError(
                "must be a DNS label: lower-case letters, digits and '-', starting and ending with a "
                "letter or digit, at most 40 characters (e.g. 'llama-8b')"
            )
        return value


class ModelSection(StrictModel):
    """Which model to serve and how its weights are stored."""

    source: str = Field(
        description="Where the weights come from: 'hf://org/name' (Hugging Face), 's3://…', 'gs://…', "
        "'pvc://claim/path' or a local path (local mode, GGUF files)."
    )
    name: str | None = Field(
        default=None,
        description="Catalog name or Hugging Face id used for planning; defaults to the id in 'source'.",
    )
    config: str | None = Field(
        default=None,
        description="Path to the model's Hugging Face config.json, for models not in the catalog.",
    )
    revision: str | None = Field(
        default=None,
        description="Pinned revision (commit sha or tag) to download; unpinned revisions change under you, so "
        "production specs should set a commit sha.",
    )
    served_name: str | None = Field(
        default=None, description="Model name clients send in requests; defaults to the id in 'source'."
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto",
        description="Weight and activation dtype; 'auto' takes the checkpoint's, falling back to float16 on GPUs "
        "without bf16 (T4, V100).",
    )
    quantization: Literal["none", "fp8", "int8", "awq", "gptq", "int4", "mxfp4", "gguf"] = Field(
        default="none",
        description="Weight quantization: 'none' keeps the checkpoint's dtype; 'fp8' quantizes on load (Ada/Hopper "
        "or newer); awq/gptq/int4 expect a pre-quantized checkpoint.",
    )
    weights_gib: float | None = Field(
        default=None,
        gt=0,
        description="Measured size of the weights in GiB (sum of the safetensors files); overrides the estimate "
        "from parameter count × bytes.",
    )
    checksums: dict[str, str] = Field(
        default_factory=dict,
        description="sha256 per weight file ('model-00001-of-00004.safetensors': '<hex>'), verified by the "
        "prefetch Job before any replica starts.",
    )

    @field_validator("checksums")
    @classmethod
    def _sha256(cls, value: dict[str, str]) -> dict[str, str]:
        for filename, digest in value.items():
            if not _SHA256.match(digest):
                raise ValueError(f"checksum of {filename!r} must be 64 lower-case hex digits (sha256)")
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the weights, e.g. 'hf://meta-llama/Llama-3.1-8B-Instruct'")
        if value.startswith("hf://") and value.count("/") < 3:
            raise ValueError(
                "an hf:// source needs 'hf://<org>/<name>', e.g. 'hf://Qwen/Qwen2.5-7B-Instruct'"
            )
        return value

    @property
    def source_id(self) -> str:
        """The repository id inside ``source`` ('org/name' for hf://), else the source itself."""
        for scheme in ("hf://", "s3://", "gs://", "pvc://"):
            if self.source.startswith(scheme):
                return self.source[len(scheme) :]
        return self.source

    @property
    def planning_name(self) -> str:
        """The name the catalog is asked for."""
        return self.name or self.source_id


class EngineSection(StrictModel):
    """The serving engine and how it is started."""

    name: EngineName = Field(
        default=EngineName.VLLM, description="Serving engine: vllm, sglang, tgi, trtllm or llamacpp."
    )
    image: str | None = Field(
        default=None,
        description="Container image, pinned by tag or digest; defaults to the tested tag of the engine.",
    )
    extra_args: list[str] = Field(
        default_factory=list,
        description="Extra engine arguments appended after the planned ones; one that sets a flag kubellm plans "
        "(in any spelling: --max_model_len=…, -tp) is an error naming the spec field to set instead.",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for the engine container."
    )

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str | None) -> str | None:
        return pinned_image(value, "vllm/vllm-openai:v0.10.1.1")


class GpuSection(StrictModel):
    """Which GPUs each replica gets, and how they are shared."""

    type: str = Field(default="L4", description="GPU model by catalog name ('h100', 'a100-80gb', 'l4', …).")
    count: int | None = Field(
        default=None,
        ge=1,
        description="GPUs per replica (the tensor-parallel size × pipeline size); unset = the planner picks the "
        "smallest count that fits.",
    )
    sharing: GpuSharing = Field(
        default=GpuSharing.EXCLUSIVE,
        description="exclusive (one pod per GPU), time-slicing, mps, or mig (a MIG slice given by 'mig_profile').",
    )
    mig_profile: str | None = Field(
        default=None, description="MIG profile for sharing=mig, e.g. '3g.40gb' (must exist on the GPU type)."
    )
    memory_utilization: float = Field(
        default=0.90,
        gt=0.0,
        le=0.98,
        description="Fraction of each GPU's total memory the engine may use (vLLM --gpu-memory-utilization). "
        "Leave ~10 % for CUDA graphs and fragmentation.",
    )
    runtime_class: str | None = Field(
        default=None, description="RuntimeClass for GPU pods ('nvidia' where the GPU Operator installs one)."
    )
    nodes: int = Field(
        default=1,
        ge=1,
        description="Nodes per replica (pipeline parallel across nodes with LeaderWorkerSet when > 1).",
    )
    gpus_per_node: int = Field(
        default=8, ge=1, description="GPUs each node of this type has (for multi-node planning)."
    )

    @model_validator(mode="after")
    def _mig_needs_profile(self) -> GpuSection:
        if self.sharing == GpuSharing.MIG and not self.mig_profile:
            raise ValueError("sharing 'mig' needs gpu.mig_profile, e.g. '3g.40gb'")
        if self.mig_profile and self.sharing != GpuSharing.MIG:
            raise ValueError("gpu.mig_profile is set but gpu.sharing is not 'mig': set sharing: mig")
        return self


class Slo(StrictModel):
    """Latency objectives a replica is sized and load-tested against."""

    ttft_p95_ms: float = Field(default=1000.0, gt=0, description="95th percentile time to first token, ms.")
    itl_p95_ms: float = Field(
        default=100.0, gt=0, description="95th percentile gap between output tokens, ms."
    )


class ServingSection(StrictModel):
    """Context, batching and latency targets of each replica."""

    max_model_len: int | None = Field(
        default=None,
        ge=16,
        description="Longest request (prompt + output) in tokens; unset = the model's native context, capped so "
        "at least target_concurrency requests fit in the KV cache.",
    )
    target_concurrency: int = Field(
        default=16,
        ge=1,
        description="Concurrent requests one replica must hold (sizes KV cache and throughput estimate).",
    )
    max_num_seqs: int | None = Field(
        default=None, ge=1, description="Engine cap on running sequences; unset = the engine's default."
    )
    max_num_batched_tokens: int | None = Field(
        default=None,
        ge=16,
        description="Tokens per engine step (prefill chunk); unset = the engine's default.",
    )
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] = Field(
        default="auto", description="KV cache dtype; fp8 halves KV memory (Ada/Hopper or newer)."
    )
    prefix_caching: bool = Field(default=True, description="Reuse KV blocks of shared prompt prefixes.")
    enforce_eager: bool = Field(
        default=False,
        description="Run vLLM without CUDA graphs (--enforce-eager): the memory the graphs would take goes to the "
        "KV cache, decode steps are slower.",
    )
    slo: Slo = Field(default_factory=Slo, description="Latency objectives.")


class ScalingSection(StrictModel):
    """Replica count and autoscaling."""

    min_replicas: int = Field(
        default=1, ge=0, description="Fewest replicas; 0 needs scale_to_zero and the gateway."
    )
    max_replicas: int = Field(
        default=2, ge=1, description="Most replicas; autoscaling is rendered when above min_replicas."
    )
    autoscaler: Literal["hpa", "keda"] = Field(
        default="keda",
        description="hpa (autoscaling/v2 + Prometheus Adapter) or keda (ScaledObject with a Prometheus trigger).",
    )
    metric: Literal["queue", "running", "kv-cache", "gateway-pending"] = Field(
        default="queue",
        description="Load signal: engine queue length, running requests, KV-cache usage, or the gateway's pending "
        "requests (the only one that works at zero replicas).",
    )
    target: float = Field(
        default=4.0,
        gt=0,
        description="Per-replica target of the metric (e.g. 4 waiting requests); 'kubellm tune' sets it from a benchmark.",
    )
    scale_to_zero: bool = Field(
        default=False, description="Allow zero replicas when idle (the gateway holds requests)."
    )
    scale_up_stabilization_s: int | None = Field(
        default=None,
        ge=0,
        description="Scale-up stabilization window; unset = derived from the planned startup time.",
    )
    scale_down_stabilization_s: int = Field(
        default=600, ge=0, description="Scale-down stabilization window, seconds."
    )
    off_hours_cron: str | None = Field(
        default=None,
        description="KEDA cron window with min_replicas kept warm, e.g. '0 8 * * 1-5' to '0 20 * * 1-5' start.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ScalingSection:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas}): raise max_replicas"
            )
        if self.min_replicas == 0 and not self.scale_to_zero:
            raise ValueError("min_replicas 0 needs scale_to_zero: true (and the gateway to hold requests)")
        return self


class StorageSection(StrictModel):
    """Where model weights are cached."""

    model_cache: Literal["pvc", "hostPath", "none"] = Field(
        default="pvc",
        description="pvc (a persistent cache: one claim per replica, or one shared claim — see access_mode), "
        "hostPath (node-local), or none (download per pod).",
    )
    size_gib: int | None = Field(
        default=None,
        ge=1,
        description="Cache volume size; unset = the files the engine loads (weights, configs, tokenizer) × 1.5, "
        "rounded up.",
    )
    storage_class: str | None = Field(
        default=None,
        description="StorageClass of the cache claims; unset = the cluster's default class (block storage, "
        "ReadWriteOnce, on GKE, AKS and OpenShift; none at all on EKS clusters created on 1.30 or later). A shared "
        "cache (access_mode ReadWriteMany/ReadOnlyMany) needs a class that offers it: Filestore, EFS, Azure Files.",
    )
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce", "ReadOnlyMany"] = Field(
        default="ReadWriteOnce",
        description="ReadWriteOnce (default): one cache claim per replica (StatefulSet volumeClaimTemplates), which "
        "binds on every provider's block storage; each replica downloads once and keeps its copy across restarts. "
        "ReadWriteMany: one claim shared by every replica, filled once by a prefetch Job (needs storage_class). "
        "ReadOnlyMany: an existing, filled volume (e.g. GKE Hyperdisk ML) given as model.source pvc://claim/path.",
    )
    object_store_access: Literal["auto", "streamer", "csi"] = Field(
        default="auto",
        description="How a gs:// or s3:// model.source reaches the engine: streamer (vLLM/SGLang stream the "
        "safetensors with the Run:ai Model Streamer), csi (the provider's bucket CSI driver: GCS FUSE on GKE, "
        "Mountpoint for S3 on EKS), auto = streamer where the engine supports it, else csi.",
    )
    host_path: str = Field(
        default="/var/lib/kubellm/models", description="Node directory used when model_cache is hostPath."
    )
    purge_on_delete: bool = Field(
        default=False,
        description="Delete the model cache PVC with the service (the operator's finalizer); off keeps the "
        "downloaded weights for the next service, and `kubellm delete --purge` removes them later.",
    )


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


class LLMService(StrictModel):
    """A self-hosted LLM service: the one input of plan, render, apply and up."""

    apiVersion: Literal["kubellm.dev/v1alpha1"] = Field(default=API_VERSION, description="Spec version.")
    kind: Literal["LLMService"] = Field(default=KIND, description="Always LLMService.")
    metadata: Metadata = Field(description="Name, namespace and labels.")
    model: ModelSection = Field(description="The model and its weights.")
    engine: EngineSection = Field(default_factory=EngineSection, description="Serving engine.")
    gpu: GpuSection = Field(default_factory=GpuSection, description="GPUs per replica and sharing.")
    serving: ServingSection = Field(default_factory=ServingSection, description="Context, batching, SLOs.")
    scaling: ScalingSection = Field(default_factory=ScalingSection, description="Replicas and autoscaling.")
    storage: StorageSection = Field(default_factory=StorageSection, description="Model cache.")
    placement: PlacementSection = Field(
        default_factory=PlacementSection, description="Node selection and spread."
    )
    security: SecuritySection = Field(default_factory=SecuritySection, description="Secrets and exposure.")
    gateway: GatewaySection = Field(default_factory=GatewaySection, description="The gateway in front.")
    observability: ObservabilitySection = Field(
        default_factory=ObservabilitySection, description="Monitoring."
    )

    @model_validator(mode="after")
    def _cross_section(self) -> LLMService:
        if self.gateway.enabled and self.gateway.kind == "inference-extension":
            if self.engine.name not in (EngineName.VLLM, EngineName.SGLANG):
                raise ValueError(
                    f"gateway.kind: inference-extension with engine.name {self.engine.name.value}: the endpoint "
                    "picker reads the queue and KV-cache metrics of vllm and sglang only; use one of them, or "
                    "gateway.kind: kubellm"
                )
            if self.scaling.metric == "gateway-pending":
                raise ValueError(
                    "scaling.metric: gateway-pending needs kubellm's gateway (gateway.kind: kubellm); with "
                    "gateway.kind: inference-extension scale on queue, running or kv-cache"
                )
        if self.scaling.scale_to_zero and not self.gateway.enabled:
            raise ValueError(
                "scaling.scale_to_zero needs gateway.enabled: true — without the gateway the first request after "
                "idle is dropped; enable the gateway or set scale_to_zero: false"
            )
        if self.scaling.scale_to_zero and self.scaling.metric != "gateway-pending":
            raise ValueError(
                "scaling.scale_to_zero needs scaling.metric: gateway-pending — engine metrics vanish at zero replicas"
            )
        return self
