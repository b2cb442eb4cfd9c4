"""What the doctor knows about the intended service, beyond the cluster's objects (all optional)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kubellm.cluster.objects import labels_of, name_of, namespace_of

if TYPE_CHECKING:
    from kubellm.planning import Plan

SERVICE_LABEL = "kubellm.dev/service"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
INSTANCE_LABEL = "app.kubernetes.io/instance"


@dataclass(frozen=True, slots=True)
class DoctorHints:
    """Scope and expectations: which namespace and service, and what the plan asked for."""

    namespace: str | None = None
    service: str | None = None
    image: str | None = None
    gpu_resource: str | None = None
    gpus_per_pod: int | None = None
    host_memory_gib: float | None = None
    startup_budget_s: int | None = None
    runtime_class: str | None = None
    autoscaler: Literal["hpa", "keda"] | None = None
    gpu_products: tuple[str, ...] = ()  # nvidia.com/gpu.product values of the spec's GPU type
    plan: Plan | None = None  # the spec's plan: fixes computed with the planner

    def in_scope(self, obj: dict[str, Any]) -> bool:
        """Whether an object belongs to the namespace and service looked at."""
        if self.namespace and namespace_of(obj) not in (self.namespace, ""):
            return False
        if not self.service:
            return True
        labels = labels_of(obj)
        if labels.get(SERVICE_LABEL) == self.service or labels.get(INSTANCE_LABEL) == self.service:
            return True
        if INSTANCE_LABEL in labels or SERVICE_LABEL in labels:
            return False  # labelled as another service's
        return name_of(obj).startswith(f"{self.service}-")  # unlabelled (hand-made) objects: by name
