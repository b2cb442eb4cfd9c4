"""LintContext: the whole manifest set, indexed for rules that look across objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubellm.catalog import Catalog, GpuSpec, default_catalog
from kubellm.lint.gpu import GPU_NODE_LABELS, GpuChoice, gpu_from_labels, gpu_from_mig, node_label_values
from kubellm.lint.loader import K8sObject
from kubellm.lint.platforms import kind_key, pods_of
from kubellm.lint.workload import ANY_VALUE, PodView, as_dict


def _ns_match(a: str, b: str) -> bool:
    return a == b or not a or not b or {a, b} == {"default", ""}


def selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """Label selector semantics: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    match_labels = (
        as_dict(selector.get("matchLabels"))
        if "matchLabels" in selector or "matchExpressions" in selector
        else selector
    )
    for key, value in match_labels.items():
        if key not in labels or (labels[key] is not ANY_VALUE and str(labels[key]) != str(value)):
            return False
    for expr in selector.get("matchExpressions") or [] if "matchExpressions" in selector else []:
        if not isinstance(expr, dict):
            continue
        key, op = str(expr.get("key")), expr.get("operator")
        values = [str(v) for v in expr.get("values") or []]
        present = key in labels
        if labels.get(key) is ANY_VALUE:  # set per pod by the controller: some pod has a matching value
            if op == "DoesNotExist":
                return False
            continue
        if (op == "In" and (not present or str(labels[key]) not in values)) or (
            op == "NotIn" and present and str(labels[key]) in values
        ):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


@dataclass(slots=True)
class LintContext:
    """The manifest set with its pods, indexed by kind, and the catalog the rules ask."""

    objects: list[K8sObject]
    given_catalog: Catalog | None = None
    gpu_override: GpuSpec | None = None
    pods: list[PodView] = field(default_factory=list)
    _by_kind: dict[str, list[K8sObject]] = field(default_factory=dict)
    _gpu_cache: dict[int, GpuChoice | None] = field(default_factory=dict)
    plan_cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in self.objects:
            self._by_kind.setdefault(kind_key(obj), []).append(obj)
        for obj in self.objects:
            self.pods.extend(pods_of(obj, self.configmap_data))
        for pod in self.pods:
            pod.seal()

    @property
    def catalog(self) -> Catalog:
        """The model/GPU catalog, loaded on first use (manifests without GPUs or models never need it)."""
        if self.given_catalog is None:
            self.given_catalog = default_catalog()
        return self.given_catalog

    def by_kind(self, *kinds: str) -> list[K8sObject]:
        found: list[K8sObject] = []
        for kind in kinds:
            found.extend(self._by_kind.get(kind, ()))
        return found

    def find(self, kind: str, name: str, namespace: str) -> K8sObject | None:
        for obj in self._by_kind.get(kind, ()):
            if obj.name == name and _ns_match(obj.namespace, namespace):
                return obj
        return None

    def configmap_data(self, name: str, namespace: str) -> dict[str, Any] | None:
        obj = self.find("ConfigMap", name, namespace)
        return as_dict(obj.data.get("data")) if obj else None

    def pods_selected(self, selector: dict[str, Any], namespace: str) -> list[PodView]:
        if not selector:
            return []
        return [
            p
            for p in self.pods
            if _ns_match(p.obj.namespace, namespace)
            and p.all_labels
            and selector_matches(selector, p.all_labels)
        ]

    def pods_of_object(self, obj: K8sObject) -> list[PodView]:
        return [p for p in self.pods if p.obj is obj]

    def gpu_for(self, pod: PodView) -> GpuChoice | None:
        """The GPU this pod runs on: --gpu, else MIG resource names, node labels, KubeAI profile."""
        key = id(pod)
        if key not in self._gpu_cache:
            self._gpu_cache[key] = self._resolve_gpu(pod)
        return self._gpu_cache[key]

    def _resolve_gpu(self, pod: PodView) -> GpuChoice | None:
        pairs = [(k, v) for k, v in node_label_values(pod.spec) if k in GPU_NODE_LABELS]
        resources = [r for c in pod.containers for r in c.gpu_resources]
        if not (
            pairs
            or pod.gpu_profile
            or self.gpu_override
            or any(r.startswith("nvidia.com/mig-") for r in resources)
        ):
            return None
        labelled = gpu_from_labels(self.catalog, pairs)
        if labelled is None and pod.gpu_profile:
            gpu = self.catalog.find_gpu(pod.gpu_profile)
            labelled = GpuChoice((gpu,), pod.gpu_profile_source or pod.gpu_profile) if gpu else None
        if self.gpu_override is not None:
            labelled = GpuChoice((self.gpu_override,), "--gpu")
        mig = gpu_from_mig(self.catalog, resources, labelled)
        return mig or labelled
