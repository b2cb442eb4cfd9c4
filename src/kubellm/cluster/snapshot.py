"""ClusterSnapshot: the plain objects the doctor reasons over, read from a dump directory or the API.

Objects stay the dicts ``kubectl get -o json`` prints. Reading a dump never fails on a bad or missing
file: the problem is noted in ``warnings`` and the diagnosis works with what is there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml

from kubellm.cluster.objects import namespace_of

T = TypeVar("T")
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "LeaderWorkerSet"})
# The kinds kubellm renders an engine as (StatefulSet when each replica keeps its own model cache).
ENGINE_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "LeaderWorkerSet")
_KIND_BY_FILE = {
    "nodes": "Node",
    "pods": "Pod",
    "events": "Event",
    "deployments": "Deployment",
    "daemonsets": "DaemonSet",
    "statefulsets": "StatefulSet",
    "jobs": "Job",
    "runtimeclasses": "RuntimeClass",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "storageclasses": "StorageClass",
}
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One Prometheus sample: metric name, labels, value."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass
class ClusterSnapshot:
    """Objects of one cluster (or one namespace of it) at one moment; every part may be empty."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    workloads: list[dict[str, Any]] = field(default_factory=list)
    runtime_classes: list[dict[str, Any]] | None = None
    claims: list[dict[str, Any]] = field(default_factory=list)
    storage_classes: list[dict[str, Any]] | None = None  # None: not read (unknown), [] : the cluster has none
    api_versions: set[str] | None = None
    logs: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricSample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cluster_wide: bool | None = None
    _memo: dict[str, tuple[tuple[int, ...], Any]] = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """``build()`` once per snapshot content (indexes the checks share); rebuilt when a list changes size."""
        shape = (len(self.nodes), len(self.pods), len(self.events), len(self.workloads), len(self.logs))
        cached = self._memo.get(key)
        if cached is None or cached[0] != shape:
            cached = (shape, build())
            self._memo[key] = cached
        return cast(T, cached[1])

    def add_object(self, obj: dict[str, Any]) -> None:
        """File one API object under its kind; kinds the doctor does not read are dropped."""
        kind = obj.get("kind")
        if not isinstance(kind, str):
            return
        if kind == "Node":
            self.nodes.append(obj)
        elif kind == "Pod":
            self.pods.append(obj)
        elif kind == "Event":
            self.events.append(obj)
        elif kind in WORKLOAD_KINDS:
            self.workloads.append(obj)
        elif kind == "RuntimeClass":
            self.runtime_classes = [*(self.runtime_classes or []), obj]
        elif kind == "PersistentVolumeClaim":
            self.claims.append(obj)
        elif kind == "StorageClass":
            self.storage_classes = [*(self.storage_classes or []), obj]

    @property
    def all_namespaces(self) -> bool:
        """Whether the pods cover the whole cluster (said by the reader, else guessed from the namespaces)."""
        if self.cluster_wide is not None:
            return self.cluster_wide
        namespaces = {namespace_of(p) for p in self.pods}
        return "kube-system" in namespaces or len(namespaces) > 2

    def logs_for(self, namespace: str, pod: str, container: str | None = None) -> str:
        """Every log of a pod (or one container), current and previous, joined."""
        index = self.memo("logs-by-pod", self._logs_by_pod)
        parts = [
            text
            for ns, cont, text in index.get(pod, [])
            if ns in (namespace, "*") and (container is None or cont in ("", container))
        ]
        return "\n".join(parts)

    def _logs_by_pod(self) -> dict[str, list[tuple[str, str, str]]]:
        index: dict[str, list[tuple[str, str, str]]] = {}
        for key, text in self.logs.items():
            ns, _, rest = key.partition("/")
            name, _, cont = rest.partition("/")
            index.setdefault(name, []).append((ns, cont, text))
        return index


def parse_metrics(text: str) -> list[MetricSample]:
    """Samples of a Prometheus text exposition (comments and malformed lines skipped)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        samples.append(MetricSample(match.group(1), labels, value))
    return samples


def _objects_in(data: Any, default_kind: str | None) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items = [i for i in data["items"] if isinstance(i, dict)]
    elif isinstance(data, dict):
        items = [data]
    elif isinstance(data, list):
        items = [i for i in data if isinstance(i, dict)]
    else:
        return []
    if default_kind:
        for item in items:
            item.setdefault("kind", default_kind)
    return items


def _log_key(path: Path, root: Path) -> str:
    """'<namespace>_<pod>_<container>[.previous].log' → 'ns/pod/container'; other names → '*/<stem>/'."""
    stem = path.name.removesuffix(".log").removesuffix(".txt").removesuffix(".previous")
    parts = stem.split("_")
    if len(parts) == 3:
        return "/".join(parts)
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}/"
    return f"*/{stem}/"


def load_dump(directory: str | Path) -> ClusterSnapshot:
    """Read a dump made with the commands in docs/cluster.md (any subset of its files)."""
    root = Path(directory)
    snap = ClusterSnapshot()
    if not root.is_dir():
        snap.warnings.append(f"{root}: not a directory")
        return snap
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            snap.warnings.append(f"{rel}: unreadable ({exc.strerror})")
            continue
        suffix = path.suffix.lower()
        if path.name == "api-versions.txt":
            snap.api_versions = {line.strip() for line in text.splitlines() if line.strip()}
        elif suffix in (".prom",) or path.name.startswith("metrics"):
            snap.metrics.extend(parse_metrics(text))
        elif suffix == ".log" or "logs" in rel.parts[:-1]:
            key = _log_key(path, root)
            snap.logs[key] = f"{snap.logs[key]}\n{text}" if key in snap.logs else text
        elif suffix in (".json", ".yaml", ".yml"):
            _load_objects(snap, rel, text, suffix)
    return snap


def _load_objects(snap: ClusterSnapshot, rel: Path, text: str, suffix: str) -> None:
    default_kind = _KIND_BY_FILE.get(rel.stem.lower())
    if default_kind == "RuntimeClass" and snap.runtime_classes is None:
        snap.runtime_classes = []  # the file is there: an empty list means "none in the cluster"
    if default_kind == "StorageClass" and snap.storage_classes is None:
        snap.storage_classes = []
    try:
        if suffix == ".json":
            docs: list[Any] = [json.loads(text)] if text.strip() else []
        else:
            docs = list(yaml.safe_load_all(text))
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        snap.warnings.append(f"{rel}: not valid {suffix[1:].upper()} ({str(exc).splitlines()[0]}); skipped")
        return
    for doc in docs:
        for obj in _objects_in(doc, default_kind):
            snap.add_object(obj)
