"""Pods inside objects: Deployments, StatefulSets, Jobs, LeaderWorkerSets, KServe and KubeAI resources.

A :class:`PodView` is one pod template with its path in the object; each :class:`ContainerView`
carries its literal environment (envFrom ConfigMaps of the same manifest set resolved), its GPU
count and the engine it runs, parsed. ``managed`` pods are rendered by a controller (KubeAI Model,
KServe predictor): only the fields the user wrote are checked there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubellm.lint.engines import EngineConfig, detect
from kubellm.lint.gpu import is_gpu_resource
from kubellm.lint.loader import K8sObject
from kubellm.lint.quantity import parse_quantity

WORKLOAD_TEMPLATE_PATHS = {
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "ReplicationController": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
    "Pod": "spec",
}
CORE_KINDS = frozenset(
    {
        *WORKLOAD_TEMPLATE_PATHS,
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
    }
)
EXTRA_KINDS = frozenset(
    {
        "ScaledObject",
        "LeaderWorkerSet",
        "InferenceService",
        "ServingRuntime",
        "ClusterServingRuntime",
        "ClusterStorageContainer",
        "Model",
        "ServiceMonitor",
        "LLMService",
    }
)
KNOWN_KINDS = CORE_KINDS | EXTRA_KINDS


def get_path(data: Any, path: str) -> Any:
    """Value at a dotted path of dict keys ('spec.template.spec'); None when any step is missing."""
    node = data
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(slots=True)
class ContainerView:
    """One container of a pod template, with what the linter derives from it."""

    data: dict[str, Any]
    path: str
    init: bool = False
    sidecar: bool = False
    env: dict[str, str] = field(default_factory=dict)
    env_sources: dict[str, str] = field(
        default_factory=dict
    )  # name → 'value' | 'secret' | 'configmap' | 'field'
    engine: EngineConfig | None = None
    gpu_count: int = 0
    gpu_resources: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.data.get("name") or "")

    @property
    def image(self) -> str:
        return str(self.data.get("image") or "")

    @property
    def resources(self) -> dict[str, Any]:
        return as_dict(self.data.get("resources"))

    @property
    def limits(self) -> dict[str, Any]:
        return as_dict(self.resources.get("limits"))

    @property
    def requests(self) -> dict[str, Any]:
        return as_dict(self.resources.get("requests"))

    @property
    def security(self) -> dict[str, Any]:
        return as_dict(self.data.get("securityContext"))

    def probe(self, kind: str) -> dict[str, Any] | None:
        probe = self.data.get(kind)
        return probe if isinstance(probe, dict) else None

    @property
    def mounts(self) -> list[dict[str, Any]]:
        return [m for m in as_list(self.data.get("volumeMounts")) if isinstance(m, dict)]

    def mount_at(self, path: str) -> dict[str, Any] | None:
        for mount in self.mounts:
            if str(mount.get("mountPath") or "").rstrip("/") == path.rstrip("/"):
                return mount
        return None

    def mount_covering(self, path: str) -> dict[str, Any] | None:
        """The volume mount that holds ``path`` (the longest mountPath that is a prefix of it)."""
        best: dict[str, Any] | None = None
        best_len = -1
        target = path.rstrip("/") + "/"
        for mount in self.mounts:
            mount_path = str(mount.get("mountPath") or "").rstrip("/") + "/"
            if target.startswith(mount_path) and len(mount_path) > best_len:
                best, best_len = mount, len(mount_path)
        return best

    @property
    def is_engine(self) -> bool:
        return self.engine is not None


@dataclass(slots=True)
class PodView:
    """One pod template inside an object."""

    obj: K8sObject
    spec: dict[str, Any]
    path: str
    containers: list[ContainerView]
    replicas: int | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    role: str = ""
    group_size: int = 1  # pods per replica group (LeaderWorkerSet size, KServe head + workers)
    managed: bool = False
    gpu_profile: str | None = None  # KubeAI resourceProfile GPU name

    @property
    def main(self) -> list[ContainerView]:
        return [c for c in self.containers if not c.init or c.sidecar]

    @property
    def engines(self) -> list[ContainerView]:
        return [c for c in self.containers if c.engine is not None and not c.init]

    @property
    def gpu_count(self) -> int:
        return sum(c.gpu_count for c in self.main)

    @property
    def uses_gpu(self) -> bool:
        return any(c.gpu_count > 0 or c.gpu_resources for c in self.containers)

    def volume(self, name: str) -> dict[str, Any] | None:
        for volume in as_list(self.spec.get("volumes")):
            if isinstance(volume, dict) and volume.get("name") == name:
                return volume
        return None

    def volume_index(self, name: str) -> int | None:
        for i, volume in enumerate(as_list(self.spec.get("volumes"))):
            if isinstance(volume, dict) and volume.get("name") == name:
                return i
        return None

    @property
    def multi_node(self) -> bool:
        return self.group_size > 1


ConfigMapLookup = Callable[[str, str], dict[str, Any] | None]


def gpu_count(container: dict[str, Any]) -> tuple[int, tuple[str, ...]]:
    """GPUs a container asks for (limits, else requests) and the GPU resource names it uses."""
    resources = as_dict(container.get("resources"))
    names: list[str] = []
    total = 0
    for section in ("limits", "requests"):
        for name, value in as_dict(resources.get(section)).items():
            if is_gpu_resource(str(name)):
                if name not in names:
                    names.append(str(name))
                if section == "limits" or not as_dict(resources.get("limits")).get(name):
                    total += int(parse_quantity(value) or 0) if str(name) != "nvidia.com/gpumem" else 0
    return total, tuple(names)


def container_env(
    container: dict[str, Any], namespace: str, configmaps: ConfigMapLookup
) -> tuple[dict[str, str], dict[str, str]]:
    env: dict[str, str] = {}
    sources: dict[str, str] = {}
    for ref in as_list(container.get("envFrom")):
        cm_ref = as_dict(as_dict(ref).get("configMapRef"))
        if cm_ref.get("name"):
            data = configmaps(str(cm_ref["name"]), namespace) or {}
            prefix = str(as_dict(ref).get("prefix") or "")
            for key, value in data.items():
                env[prefix + str(key)] = "" if value is None else str(value)
                sources[prefix + str(key)] = "configmap"
        if as_dict(as_dict(ref).get("secretRef")).get("name"):
            sources["*secret*"] = "secret"
    for item in as_list(container.get("env")):
        if not isinstance(item, dict) or not item.get("name"):
            continue
        name = str(item["name"])
        if "value" in item:
            env[name] = "" if item["value"] is None else str(item["value"])
            sources[name] = "value"
        elif isinstance(item.get("valueFrom"), dict):
            value_from = item["valueFrom"]
            if "secretKeyRef" in value_from:
                sources[name] = "secret"
            elif "configMapKeyRef" in value_from:
                ref = as_dict(value_from["configMapKeyRef"])
                data = configmaps(str(ref.get("name") or ""), namespace) or {}
                if ref.get("key") in data:
                    env[name] = str(data[ref["key"]])
                sources[name] = "configmap"
            else:
                sources[name] = "field"
    return env, sources


def _container_views(
    pod_spec: dict[str, Any], path: str, namespace: str, configmaps: ConfigMapLookup
) -> list[ContainerView]:
    views: list[ContainerView] = []
    for section, init in (("containers", False), ("initContainers", True)):
        for i, data in enumerate(as_list(pod_spec.get(section))):
            if not isinstance(data, dict):
                continue
            views.append(
                make_container(
                    data, f"{path}.{section}[{i}]" if path else f"{section}[{i}]", init, namespace, configmaps
                )
            )
    return views


def make_container(
    data: dict[str, Any],
    path: str,
    init: bool,
    namespace: str,
    configmaps: ConfigMapLookup,
    image_hint: str = "",
) -> ContainerView:
    env, sources = container_env(data, namespace, configmaps)
    command = [str(t) for t in as_list(data.get("command")) if t is not None]
    args = [str(t) for t in as_list(data.get("args")) if t is not None]
    image = str(data.get("image") or image_hint)
    engine = detect(image, command, args, env)
    count, names = gpu_count(data)
    return ContainerView(
        data=data,
        path=path,
        init=init,
        sidecar=init and data.get("restartPolicy") == "Always",
        env=env,
        env_sources=sources,
        engine=engine,
        gpu_count=count,
        gpu_resources=names,
    )


def _int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def pods_of(obj: K8sObject, configmaps: ConfigMapLookup) -> list[PodView]:
    """Every pod template the object defines (empty for objects that define none)."""
    return list(_pods_of(obj, configmaps))


def _pods_of(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    ns = obj.namespace
    kind = obj.kind
    if kind in WORKLOAD_TEMPLATE_PATHS:
        path = WORKLOAD_TEMPLATE_PATHS[kind]
        spec = get_path(obj.data, path)
        if not isinstance(spec, dict):
            return
        template_meta = (
            as_dict(get_path(obj.data, path.rsplit(".", 1)[0] + ".metadata"))
            if kind != "Pod"
            else obj.metadata
        )
        replicas = (
            _int(obj.spec.get("replicas"), 1) if kind in ("Deployment", "StatefulSet", "ReplicaSet") else None
        )
        yield PodView(
            obj,
            spec,
            path,
            _container_views(spec, path, ns, configmaps),
            replicas,
            as_dict(template_meta.get("labels")),
            as_dict(template_meta.get("annotations")),
        )
    elif kind == "LeaderWorkerSet":
        lwt = as_dict(obj.spec.get("leaderWorkerTemplate"))
        size = _int(lwt.get("size"), 1) or 1
        replicas = _int(obj.spec.get("replicas"), 1)
        for role, key in (("leader", "leaderTemplate"), ("worker", "workerTemplate")):
            template = as_dict(lwt.get(key))
            spec = template.get("spec")
            if isinstance(spec, dict):
                path = f"spec.leaderWorkerTemplate.{key}.spec"
                meta = as_dict(template.get("metadata"))
                # the controller adds these labels to every pod of the set
                labels = {"leaderworkerset.sigs.k8s.io/name": obj.name, **as_dict(meta.get("labels"))}
                yield PodView(
                    obj,
                    spec,
                    path,
                    _container_views(spec, path, ns, configmaps),
                    replicas,
                    labels,
                    as_dict(meta.get("annotations")),
                    role=role,
                    group_size=size,
                )
    elif kind in ("ServingRuntime", "ClusterServingRuntime"):
        worker = as_dict(obj.spec.get("workerSpec"))
        size = 2 if worker.get("containers") else 1
        yield PodView(
            obj,
            obj.spec,
            "spec",
            _container_views(obj.spec, "spec", ns, configmaps),
            role="head",
            group_size=size,
        )
        if worker.get("containers"):
            yield PodView(
                obj,
                worker,
                "spec.workerSpec",
                _container_views(worker, "spec.workerSpec", ns, configmaps),
                role="worker",
                group_size=size,
            )
    elif kind == "ClusterStorageContainer":
        container = obj.spec.get("container")
        if isinstance(container, dict):
            view = make_container(container, "spec.container", True, ns, configmaps)
            yield PodView(obj, {"initContainers": [container]}, "spec", [view], role="storage-initializer")
    elif kind == "InferenceService":
        yield from _inference_service(obj, configmaps)
    elif kind == "Model" and obj.api_version.startswith("kubeai.org/"):
        yield _kubeai_model(obj)


def _inference_service(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    predictor = as_dict(obj.spec.get("predictor"))
    ns = obj.namespace
    worker = as_dict(predictor.get("workerSpec"))
    size = 1 + max(0, (_int(worker.get("pipelineParallelSize"), 1) or 1) - 1) if worker else 1
    views: list[ContainerView] = []
    model = predictor.get("model")
    if isinstance(model, dict):
        fmt = str(as_dict(model.get("modelFormat")).get("name") or "").lower()
        hint = "kserve/huggingfaceserver" if fmt == "huggingface" else ""
        view = make_container(model, "spec.predictor.model", False, ns, configmaps, image_hint=hint)
        if view.engine is not None and view.engine.model is None and model.get("storageUri"):
            view.engine.model = str(model["storageUri"])
        views.append(view)
    views.extend(_container_views(predictor, "spec.predictor", ns, configmaps))
    yield PodView(
        obj,
        predictor,
        "spec.predictor",
        views,
        _int(predictor.get("minReplicas"), None),
        role="predictor",
        group_size=size,
        managed=isinstance(model, dict),
    )


def _kubeai_model(obj: K8sObject) -> PodView:
    spec = obj.spec
    engine_name = str(spec.get("engine") or "").lower()
    args = [str(a) for a in as_list(spec.get("args"))]
    env = {str(k): str(v) for k, v in as_dict(spec.get("env")).items()}
    image = {"vllm": "vllm/vllm-openai", "ollama": "ollama/ollama"}.get(engine_name, engine_name)
    container: dict[str, Any] = {"name": "server", "args": args}
    engine = detect(image, [], args, env)
    url = str(spec.get("url") or "")
    if engine is not None and engine.model is None and url:
        engine.model = url.split("://", 1)[-1]
    profile = str(spec.get("resourceProfile") or "")
    profile_name, _, count_text = profile.partition(":")
    count = (
        _int(count_text, 1) or 1 if profile_name.startswith(("nvidia", "amd")) or "gpu" in profile_name else 0
    )
    view = ContainerView(
        container,
        "spec",
        env=env,
        engine=engine,
        gpu_count=count,
        gpu_resources=("nvidia.com/gpu",) if count else (),
    )
    gpu_name = profile_name.removeprefix("nvidia-gpu-").removeprefix("gpu-") if count else None
    return PodView(
        obj, {}, "spec", [view], _int(spec.get("minReplicas"), None), managed=True, gpu_profile=gpu_name
    )
