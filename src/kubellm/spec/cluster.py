"""The GpuCluster spec: the GPU setup of a cluster that `kubellm render cluster` turns into manifests.

It names the GPU Operator install, and one entry per GPU node pool: the GPU type, how its GPUs are
shared (exclusive, time-slicing, MPS, or a MIG layout), its labels and taint, and hints for the
cluster autoscaler (a warm node kept by a low-priority placeholder).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kubellm.spec.base import StrictModel
from kubellm.spec.service import GpuSharing

CLUSTER_KIND: Literal["GpuCluster"] = "GpuCluster"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MIG_PROFILE = re.compile(r"^[1-7]g\.[0-9]+gb(\+me)?$")


class ClusterMetadata(StrictModel):
    """Name of the cluster setup."""

    name: str = Field(description="Name of this GPU cluster setup (a DNS label).")

    @field_validator("name")
    @classmethod
    def _dns(cls, value: str) -> str:
        if not _DNS_LABEL.match(value) or len(value) > 40:
            raise ValueError("must be a DNS label of at most 40 characters, e.g. 'prod-gpus'")
        return value


class OperatorSection(StrictModel):
    """The NVIDIA GPU Operator install."""

    namespace: str = Field(default="gpu-operator", description="Namespace of the GPU Operator.")
    chart_version: str = Field(
        default="v25.3.4", description="GPU Operator Helm chart version the values are for."
    )
    driver: bool = Field(
        default=True,
        description="Let the operator install the driver (false on images that ship one: GKE COS, EKS AMIs).",
    )
    driver_version: str | None = Field(
        default=None, description="Driver version; unset = the chart's default."
    )
    toolkit: bool = Field(default=True, description="Let the operator install the NVIDIA container toolkit.")
    runtime_class: str = Field(
        default="nvidia", description="RuntimeClass name for GPU pods (handler 'nvidia')."
    )
    mig_strategy: Literal["none", "single", "mixed"] = Field(
        default="mixed",
        description="How MIG slices are advertised: single (nvidia.com/gpu, one profile per node) or mixed "
        "(nvidia.com/mig-<profile>); none when no pool uses MIG.",
    )
    dcgm_exporter: bool = Field(
        default=True, description="Run the DCGM exporter and scrape it (ServiceMonitor)."
    )
    monitoring_namespace: str = Field(
        default="monitoring", description="Namespace whose Prometheus scrapes the DCGM exporter."
    )


class NodePool(StrictModel):
    """One pool of identical GPU nodes."""

    name: str = Field(description="Pool name (a DNS label); nodes carry it as label kubellm.dev/gpu-pool.")
    gpu_type: str = Field(description="GPU model by catalog name ('H100-SXM-80GB', 'L4', 'A100-80GB', …).")
    gpus_per_node: int = Field(default=8, ge=1, le=16, description="GPUs in each node of the pool.")
    nodes: int = Field(default=1, ge=0, description="Nodes in the pool now (the smoke test runs on each).")
    min_nodes: int = Field(default=0, ge=0, description="Cluster-autoscaler lower bound of the pool.")
    max_nodes: int = Field(default=4, ge=1, description="Cluster-autoscaler upper bound of the pool.")
    sharing: GpuSharing = Field(
        default=GpuSharing.EXCLUSIVE, description="exclusive, time-slicing, mps, or mig (with mig_layout)."
    )
    replicas: int = Field(
        default=2,
        ge=2,
        le=48,
        description="Pods per GPU for time-slicing or MPS (no memory isolation between them).",
    )
    mig_layout: dict[str, int] = Field(
        default_factory=dict,
        description="MIG slices per GPU for sharing=mig, e.g. {'3g.40gb': 2}; must fit the GPU's 7 compute slices.",
    )
    taint: bool = Field(default=True, description="Taint the nodes nvidia.com/gpu=present:NoSchedule.")
    spot: bool = Field(default=False, description="The pool runs on spot/preemptible capacity.")
    warm_nodes: int = Field(
        default=0,
        ge=0,
        description="Nodes kept warm by a low-priority placeholder pod that real GPU pods preempt.",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels for the pool's nodes.")
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="Labels the pool's nodes carry already (e.g. cloud.google.com/gke-nodepool: gpu-h100, "
        "eks.amazonaws.com/nodegroup: gpu-h100, kubernetes.azure.com/agentpool: gpuh100): how the labelling "
        "command finds them. Empty: GPU feature discovery's nvidia.com/gpu.product of the pool's GPU.",
    )

    @field_validator("name")
    @classmethod
    def _dns(cls, value: str) -> str:
        if not _DNS_LABEL.match(value) or len(value) > 40:
            raise ValueError("must be a DNS label of at most 40 characters, e.g. 'h100'")
        return value

    @field_validator("mig_layout")
    @classmethod
    def _profiles(cls, value: dict[str, int]) -> dict[str, int]:
        for profile, count in value.items():
            if not _MIG_PROFILE.match(profile) or count < 1:
                raise ValueError(
                    f"{profile}: {count} is not a MIG profile and a count ≥ 1, e.g. {{'3g.40gb': 2}}"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> NodePool:
        if self.sharing == GpuSharing.MIG and not self.mig_layout:
            raise ValueError("sharing 'mig' needs mig_layout, e.g. {'3g.40gb': 2}")
        if self.mig_layout and self.sharing != GpuSharing.MIG:
            raise ValueError("mig_layout is set but sharing is not 'mig': set sharing: mig")
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        if self.warm_nodes > self.max_nodes:
            raise ValueError(f"warm_nodes ({self.warm_nodes}) is above max_nodes ({self.max_nodes})")
        return self


class GpuCluster(StrictModel):
    """A cluster's GPU setup: operator, node pools, sharing, smoke tests."""

    apiVersion: Literal["kubellm.dev/v1alpha1"] = Field(
        default="kubellm.dev/v1alpha1", description="Spec version."
    )
    kind: Literal["GpuCluster"] = Field(default=CLUSTER_KIND, description="Always GpuCluster.")
    metadata: ClusterMetadata = Field(description="Name of the setup.")
    operator: OperatorSection = Field(default_factory=OperatorSection, description="GPU Operator install.")
    pools: list[NodePool] = Field(min_length=1, description="GPU node pools.")
    smoke_test: bool = Field(
        default=True,
        description="Render a Job per pool that runs nvidia-smi and a CUDA check on each GPU node.",
    )
    system_namespace: str = Field(
        default="kubellm-system", description="Namespace of the smoke tests and warm-node placeholders."
    )

    @model_validator(mode="after")
    def _unique(self) -> GpuCluster:
        names = [p.name for p in self.pools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pool names must be unique; repeated: {dupes}")
        mig = [p for p in self.pools if p.sharing == GpuSharing.MIG]
        if mig and self.operator.mig_strategy == "none":
            raise ValueError("a pool uses MIG but operator.mig_strategy is 'none': set 'single' or 'mixed'")
        if self.operator.mig_strategy == "single":
            for pool in mig:
                if len(pool.mig_layout) > 1:
                    raise ValueError(
                        f"pool {pool.name}: the 'single' MIG strategy needs one profile per node; "
                        "use operator.mig_strategy: mixed, or one profile in mig_layout"
                    )
        return self


def load_cluster_spec(path: str | Path) -> GpuCluster:
    """Read and validate a GpuCluster spec file; errors name the bad field and the fix."""
    from kubellm.errors import SpecError
    from kubellm.spec.loader import read_yaml, validate_as

    data = read_yaml(path)
    if isinstance(data, dict) and data.get("kind") not in (None, CLUSTER_KIND):
        raise SpecError(
            f"{path}: kind {data.get('kind')!r} is not a GpuCluster",
            "give a cluster spec (kind: GpuCluster), e.g. examples/cluster.yaml",
        )
    return validate_as(GpuCluster, data, str(path))
