"""The LLMService spec: one declarative description of a self-hosted model service (the sections about where and
how it meets the cluster — placement, security, gateway, observability — are in ``service_cluster``).

Every field is described and defaulted as a careful operator would choose. ``render`` turns the
spec (through the plan) into Kubernetes objects; ``up`` runs it as local processes.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kubellm.spec.base import StrictModel, pinned_image
from kubellm.spec.service_cluster import (
    GatewaySection,
    ObservabilitySection,
    PlacementSection,
    SecuritySection,
)

API_VERSION: Literal["kubellm.dev/v1alpha1"] = "kubellm.dev/v1alpha1"
KIND: Literal["LLMService"] = "LLMService"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
