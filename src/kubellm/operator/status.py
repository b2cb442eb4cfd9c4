"""The LLMService status contract: what the operator writes and `kubectl get/describe` show.

Conditions follow metav1.Condition (type, status, reason, message, lastTransitionTime,
observedGeneration) plus three fields of the doctor's finding when one explains a False condition:
``finding`` (its stable id), ``fix`` and ``specField``. Field names are camelCase, as Kubernetes
status is; the CRD's status schema is generated from these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubellm.spec.base import StrictModel

ConditionType = Literal["Planned", "Scheduled", "ModelReady", "EngineReady", "Ready", "Degraded"]
CONDITION_TYPES: tuple[str, ...] = ConditionType.__args__  # type: ignore[attr-defined]
Phase = Literal[
    "Invalid", "Unplannable", "Pending", "Downloading", "Starting", "Ready", "Degraded", "Deleting"
]


class Condition(StrictModel):
    """One observation about the service, as metav1.Condition plus the doctor's finding."""

    type: ConditionType = Field(description="Planned, Scheduled, ModelReady, EngineReady, Ready or Degraded.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="One CamelCase word for the state (e.g. Unschedulable, Downloading).")
    message: str = Field(default="", description="What is the case, with the numbers that show it.")
    lastTransitionTime: str = Field(description="When status last changed (RFC 3339).")
    observedGeneration: int = Field(default=0, ge=0, description="The spec generation this was computed for.")
    finding: str | None = Field(default=None, description="The doctor's finding id (DOC…, SIG…) behind it.")
    fix: str | None = Field(default=None, description="What to change, from the doctor's finding.")
    specField: str | None = Field(default=None, description="The spec field the fix changes.")


class PlanSummary(StrictModel):
    """The plan's headline numbers (`kubellm plan` prints the rest)."""

    fits: bool = Field(description="Whether the model fits the GPUs with the requested context.")
    gpuType: str = Field(default="", description="The GPU the plan is for.")
    gpusPerReplica: int = Field(default=0, ge=0, description="GPUs each replica uses.")
    tensorParallel: int = Field(default=1, ge=1, description="Tensor-parallel size.")
    maxModelLen: int = Field(default=0, ge=0, description="Longest request in tokens.")
    kvCacheTokens: int = Field(default=0, ge=0, description="KV cache capacity of one replica, tokens.")
    maxConcurrency: float = Field(
        default=0, ge=0, description="Requests at max_model_len the KV cache holds."
    )
    costPerHour: float | None = Field(default=None, description="$/hour of one replica's GPUs (list price).")
    reason: str = Field(default="", description="Why it does not fit, and the cheapest change that does.")


class Download(StrictModel):
    """Progress of the prefetch Job (from its log)."""

    bytes: int = Field(default=0, ge=0, description="Bytes of weights downloaded so far.")
    totalBytes: int = Field(default=0, ge=0, description="Bytes to download (the Hub's file sizes).")
    percent: float = Field(default=0, ge=0, le=100, description="bytes / totalBytes, %.")


class LLMServiceStatus(StrictModel):
    """What the operator last observed and did."""

    observedGeneration: int = Field(default=0, ge=0, description="The spec generation last reconciled.")
    phase: Phase = Field(default="Pending", description="One word for where the service stands.")
    model: str = Field(default="", description="The model the plan is for.")
    gpu: str = Field(default="", description="GPUs per replica, e.g. '2x L4'.")
    replicas: int = Field(default=0, ge=0, description="Engine replicas that exist (scale subresource).")
    readyReplicas: int = Field(default=0, ge=0, description="Engine replicas that are ready.")
    desiredReplicas: int = Field(default=0, ge=0, description="Engine replicas wanted now.")
    ready: str = Field(default="0/0", description="readyReplicas/desiredReplicas, for kubectl get.")
    selector: str = Field(default="", description="Label selector of the engine pods (scale subresource).")
    plan: PlanSummary | None = Field(default=None, description="The plan's summary.")
    download: Download | None = Field(default=None, description="Weights download progress.")
    conditions: list[Condition] = Field(default_factory=list, description="Planned … Degraded.")
