"""What apply, prune and delete act on, in which order, and what each step did: pure functions over dicts."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kubellm.cluster import applyset as aset
from kubellm.cluster.hints import INSTANCE_LABEL, MANAGED_BY_LABEL
from kubellm.cluster.objects import labels_of, name_of, namespace_of
from kubellm.render.core import KIND_ORDER

MANAGER = "kubellm"
# Every namespaced kind kubellm renders (or rendered for an earlier version of a spec): what the doctor
# lists for a service. Prune and delete list the kinds the service's ApplySet records instead.
SERVICE_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "ResourceQuota"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("batch/v1", "Job"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
    ("networking.k8s.io/v1", "Ingress"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
)

KEPT_UNLESS_PURGE = frozenset({"PersistentVolumeClaim"})
NEVER_MEMBERS = frozenset({"Namespace"})  # a Namespace may hold other services: never pruned or deleted
NAMESPACE_ADMIN_KINDS = frozenset({"ResourceQuota", "LimitRange"})  # ClusterRole edit cannot write these


def selector(service: str) -> str:
    """Label selector of every object kubellm applied for ``service`` (also before ApplySets)."""
    return f"{MANAGED_BY_LABEL}={MANAGER},{INSTANCE_LABEL}={service}"


def owned_by(obj: dict[str, Any], service: str) -> bool:
    """Whether an object carries both labels of this service (checked here, never left to the server)."""
    labels = labels_of(obj)
    return labels.get(MANAGED_BY_LABEL) == MANAGER and labels.get(INSTANCE_LABEL) == service


def order_key(obj: dict[str, Any]) -> tuple[int, str, str]:
    kind = str(obj.get("kind", ""))
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, kind, name_of(obj)


def prepare(
    objects: list[dict[str, Any]], service: str, parent: aset.ApplySetParent | None = None
) -> list[dict[str, Any]]:
    """Copies in apply order, labelled as this service's and (given a parent) as members of its ApplySet."""
    prepared = []
    for obj in objects:
        copied = copy.deepcopy(obj)
        metadata = copied.setdefault("metadata", {})
        labels = metadata.setdefault("labels", {})
        labels.setdefault(MANAGED_BY_LABEL, MANAGER)
        if copied.get("kind") not in NEVER_MEMBERS:  # a shared Namespace is no one service's
            labels.setdefault(INSTANCE_LABEL, service)
            if parent is not None:
                labels[aset.PART_OF_LABEL] = parent.id
        metadata.pop("resourceVersion", None)
        metadata.pop("managedFields", None)
        copied.pop("status", None)
        prepared.append(copied)
    return sorted(prepared, key=order_key)


def scope(objects: list[dict[str, Any]], namespace_only: bool) -> tuple[list[dict[str, Any]], list[Action]]:
    """(objects to apply, skipped ones): a namespace-scoped apply leaves out what its user cannot write."""
    if not namespace_only:
        return objects, []
    kept, skipped = [], []
    for obj in objects:
        if not namespace_of(obj):
            skipped.append(
                Action("skipped", ref_of(obj), "cluster-scoped; a namespace-scoped apply leaves it out")
            )
        elif obj.get("kind") in NAMESPACE_ADMIN_KINDS:
            skipped.append(
                Action(
                    "skipped",
                    ref_of(obj),
                    "left to the namespace's admin: ClusterRole edit cannot write quotas",
                )
            )
        else:
            kept.append(obj)
    return kept, skipped


def identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group, str(obj.get("kind")), namespace_of(obj), name_of(obj)


def prune_candidates(
    live: list[dict[str, Any]], desired: list[dict[str, Any]], service: str, purge: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(to delete, kept): live objects of this service that are no longer desired; never an unlabelled one."""
    wanted = {identity(o) for o in desired}
    delete: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for obj in live:
        if not owned_by(obj, service) or identity(obj) in wanted or obj.get("kind") in NEVER_MEMBERS:
            continue
        (delete if purge or obj.get("kind") not in KEPT_UNLESS_PURGE else kept).append(obj)
    return sorted(delete, key=order_key, reverse=True), kept


@dataclass(frozen=True, slots=True)
class Action:
    """One thing apply, prune or delete did (or, in a dry run, would do)."""

    verb: str  # created, configured, unchanged, replaced, pruned, deleted, kept, gone, skipped
    ref: str
    note: str = ""
    dry_run: bool = False

    def line(self) -> str:
        marks = [m for m in ("server dry run" if self.dry_run else "", self.note) if m]
        return f"{self.ref} {self.verb}" + (f" ({'; '.join(marks)})" if marks else "")

    def to_json_dict(self) -> dict[str, Any]:
        return {"verb": self.verb, "object": self.ref, "note": self.note, "dry_run": self.dry_run}


def ref_of(obj: dict[str, Any]) -> str:
    ns = namespace_of(obj)
    return f"{obj.get('kind')}/{ns}/{name_of(obj)}" if ns else f"{obj.get('kind')}/{name_of(obj)}"


def holds(live: Any, sent: Any) -> bool:
    """Whether the live value already holds everything sent (the server may add defaults around it)."""
    if isinstance(sent, dict):
        return isinstance(live, dict) and all(k in live and holds(live[k], v) for k, v in sent.items())
    if isinstance(sent, list):
        return isinstance(live, list) and len(live) == len(sent) and all(map(holds, live, sent))
    return bool(live == sent)


def _owned(obj: dict[str, Any], manager: str) -> Any:
    """The fields a manager owns by apply (its managedFields entry's fieldsV1)."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Apply"
            and not entry.get("subresource")
        ):
            return entry.get("fieldsV1")
    return None


def apply_verb(
    sent: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any], manager: str
) -> str:
    """created / unchanged / configured: unchanged when the object already held what was sent, the apply
    changed neither the manager's fields nor the generation (a controller writing status meanwhile does not count)."""
    if before is None:
        return "created"
    generation = (before.get("metadata") or {}).get("generation") == (after.get("metadata") or {}).get(
        "generation"
    )
    body = {k: v for k, v in sent.items() if k not in ("apiVersion", "kind")}
    if generation and holds(before, body) and _owned(before, manager) == _owned(after, manager):
        return "unchanged"
    return "configured"
