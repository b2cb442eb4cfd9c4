"""Pods inside objects, as the rules see them: :class:`PodView` and :class:`ContainerView`.

A :class:`PodView` is one pod template with its path in the object; each :class:`ContainerView`
carries its literal environment (envFrom ConfigMaps of the same manifest set resolved), its GPU
count and the engine it runs, parsed. ``managed`` pods are rendered by a controller from a short
resource (KubeAI Model, KServe predictor, KAITO Workspace, NIMService…): only the fields the user
wrote are checked there. Which objects hold which pods is in :mod:`kubellm.lint.platforms`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubellm.lint.engines import EngineConfig, detect
from kubellm.lint.gpu import is_gpu_resource
from kubellm.lint.loader import K8sObject
from kubellm.lint.quantity import parse_quantity


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
    gpu_profile: str | None = None  # the GPU a platform names (KubeAI profile, KAITO instance type…)
    gpu_profile_source: str = ""  # where gpu_profile was read, for messages
    # labels the controller adds to every pod; a value of None matches any value (pod-index labels)
    controller_labels: dict[str, str | None] = field(default_factory=dict)
    max_surge: str | None = None  # how many extra pods a rollout may start ('25%', '1'), None: none
    template: bool = False  # a runtime template whose resources come from another object (KServe runtimes)
    # What the rules ask of every pod many times, fixed once the platform readers are done (see seal)
    _sealed: tuple[list[ContainerView], list[ContainerView], dict[str, Any], bool] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def seal(self) -> None:
        """Compute main containers, engines, labels and GPU use once: platform readers may still set a
        container's engine (ranks of a group) before this; nothing changes a pod after it."""
        self._sealed = (self._main(), self._engines(), self._all_labels(), self._uses_gpu())

    @property
    def all_labels(self) -> dict[str, Any]:
        """Template labels plus the ones the controller adds (ANY_VALUE where any value is added)."""
        return self._sealed[2] if self._sealed is not None else self._all_labels()

    def _all_labels(self) -> dict[str, Any]:
        added = {k: ANY_VALUE if v is None else v for k, v in self.controller_labels.items()}
        return {**added, **self.labels}

    @property
    def main(self) -> list[ContainerView]:
        return self._sealed[0] if self._sealed is not None else self._main()

    def _main(self) -> list[ContainerView]:
        return [c for c in self.containers if not c.init or c.sidecar]

    @property
    def engines(self) -> list[ContainerView]:
        return self._sealed[1] if self._sealed is not None else self._engines()

    def _engines(self) -> list[ContainerView]:
        return [c for c in self.containers if c.engine is not None and not c.init]

    @property
    def gpu_count(self) -> int:
        return sum(c.gpu_count for c in self.main)

    @property
    def uses_gpu(self) -> bool:
        return self._sealed[3] if self._sealed is not None else self._uses_gpu()

    def _uses_gpu(self) -> bool:
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


class _AnyValue(str):
    """A label value the controller fills per pod (pod index, hash): any selector value matches it."""

    __slots__ = ()


ANY_VALUE = _AnyValue("*")


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


def container_views(
    pod_spec: dict[str, Any],
    path: str,
    namespace: str,
    configmaps: ConfigMapLookup,
    injected_env: dict[str, str] | None = None,
) -> list[ContainerView]:
    views: list[ContainerView] = []
    for section, init in (("containers", False), ("initContainers", True)):
        for i, data in enumerate(as_list(pod_spec.get(section))):
            if not isinstance(data, dict):
                continue
            views.append(
                make_container(
                    data,
                    f"{path}.{section}[{i}]" if path else f"{section}[{i}]",
                    init,
                    namespace,
                    configmaps,
                    injected_env=injected_env,
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
    injected_env: dict[str, str] | None = None,
) -> ContainerView:
    """``injected_env``: variables the controller sets in every container (LWS_GROUP_SIZE …); the
    container's own env wins over them."""
    env, sources = container_env(data, namespace, configmaps)
    env = {**(injected_env or {}), **env}
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


def to_int(value: Any, default: int | None = None) -> int | None:
    """An int from a manifest value ('2', 2); ``default`` for anything else (bools included)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def template_pod(
    obj: K8sObject,
    template: dict[str, Any],
    path: str,
    configmaps: ConfigMapLookup,
    injected_env: dict[str, str] | None = None,
    **fields: Any,
) -> PodView | None:
    """The PodView of a PodTemplateSpec (`{metadata, spec}`) found at ``path`` + '.spec' in ``obj``."""
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return None
    meta = as_dict(template.get("metadata"))
    spec_path = f"{path}.spec" if path else "spec"
    return PodView(
        obj,
        spec,
        spec_path,
        container_views(spec, spec_path, obj.namespace, configmaps, injected_env),
        labels=as_dict(meta.get("labels")),
        annotations=as_dict(meta.get("annotations")),
        **fields,
    )
