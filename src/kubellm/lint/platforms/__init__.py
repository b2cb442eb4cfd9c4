"""Which objects hold pods, and how each platform's serving objects read as pods with engines.

``pods_of`` turns one object into the :class:`~kubellm.lint.workload.PodView`s the rules check: core
workloads and LeaderWorkerSets, KServe, KubeAI, KAITO, NVIDIA NIM and Dynamo, KubeRay (with Ray
Serve LLM) and AIBrix fleets, Knative Services. ``kind_key`` tells apart kinds that share a name
(a Knative `Service` is not a core Service; only KubeAI's `Model` is read).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from kubellm.lint.loader import K8sObject
from kubellm.lint.platforms.core import WORKLOAD_TEMPLATE_PATHS
from kubellm.lint.platforms.knative import is_knative
from kubellm.lint.platforms.kubeai import is_kubeai
from kubellm.lint.platforms.ranks import join_ranks
from kubellm.lint.workload import ConfigMapLookup, PodView

Reader = Callable[[K8sObject, ConfigMapLookup], Iterable[PodView]]

# kind → "module:function" of its reader. A platform's module is imported the first time a manifest has
# one of its kinds: most runs read core workloads only.
READERS: dict[str, str] = {
    **{kind: "core:workload_pods" for kind in WORKLOAD_TEMPLATE_PATHS},
    "LeaderWorkerSet": "core:leaderworkerset_pods",
    "InferenceService": "kserve:inference_service_pods",
    "ServingRuntime": "kserve:serving_runtime_pods",
    "ClusterServingRuntime": "kserve:serving_runtime_pods",
    "ClusterStorageContainer": "kserve:storage_container_pods",
    "LLMInferenceService": "kserve:llm_inference_service_pods",
    "KubeAIModel": "kubeai:model_pods",
    "Workspace": "kaito:workspace_pods",
    "InferenceSet": "kaito:inference_set_pods",
    "NIMService": "nim:nim_service_pods",
    "NIMCache": "nim:nim_cache_pods",
    "DynamoGraphDeployment": "dynamo:dynamo_pods",
    "RayCluster": "ray:ray_cluster_pods",
    "RayService": "ray:ray_service_pods",
    "RayJob": "ray:ray_job_pods",
    "RayClusterFleet": "ray:ray_cluster_fleet_pods",
    "KnativeService": "knative:knative_service_pods",
}
_loaded: dict[str, Reader] = {}


def reader_for(key: str) -> Reader | None:
    """The function that reads pods out of objects of this kind key, or None for kinds without pods."""
    found = _loaded.get(key)
    if found is None and key in READERS:
        module, _, name = READERS[key].partition(":")
        found = _loaded[key] = getattr(importlib.import_module(f"kubellm.lint.platforms.{module}"), name)
    return found


# Kinds the rules read without pods of their own.
OTHER_KINDS = frozenset(
    {
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "Ingress",
        "IngressRoute",
        "Namespace",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "RuntimeClass",
        "ResourceQuota",
        "LimitRange",
        "StorageClass",
        "Endpoints",
        "EndpointSlice",
        "CustomResourceDefinition",
        "HTTPRoute",
        "Gateway",
        "GRPCRoute",
        "PodMonitor",
        "PrometheusRule",
        "ScaledObject",
        "ServiceMonitor",
        "LLMService",
        "Route",
        "ModelAdapter",
    }
)
KNOWN_KINDS = frozenset(READERS) | OTHER_KINDS


def kind_key(obj: K8sObject) -> str:
    """The kind as the rules know it: 'KnativeService', 'KubeAIModel', else the object's kind."""
    if obj.kind == "Service" and is_knative(obj):
        return "KnativeService"
    if obj.kind == "Model":
        return "KubeAIModel" if is_kubeai(obj) else "Model"
    return obj.kind


def pods_of(obj: K8sObject, configmaps: ConfigMapLookup) -> list[PodView]:
    """Every pod template the object defines (empty for objects that define none)."""
    reader = reader_for(kind_key(obj))
    if reader is None:
        return []
    return join_ranks(list(reader(obj, configmaps)))
