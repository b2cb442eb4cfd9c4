"""Apply, prune and delete a service's objects: ordering and selection are pure, the client does the I/O."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubellm.cluster.client import ApiError, KubeClient, MissingApiError
from kubellm.cluster.hints import INSTANCE_LABEL, MANAGED_BY_LABEL
from kubellm.cluster.objects import labels_of, name_of, namespace_of

MANAGER = "kubellm"
# Apply order: what others refer to first (namespace, identity, config, storage), then workloads,
# then what routes to or watches them. Kinds not listed go last; deletion runs in reverse.
APPLY_ORDER = (
    "Namespace", "PriorityClass", "RuntimeClass", "ResourceQuota", "LimitRange", "ServiceAccount", "Role",
    "RoleBinding", "Secret", "ConfigMap", "PersistentVolume", "PersistentVolumeClaim", "Job", "Service", "Deployment",
    "StatefulSet",
    "LeaderWorkerSet", "Ingress", "HTTPRoute", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ScaledObject",
    "NetworkPolicy", "ServiceMonitor", "PodMonitor", "PrometheusRule",
)  # fmt: skip
# Every namespaced kind kubellm renders (or rendered for an earlier version of a spec): what prune and
# delete look for. Kinds whose API the cluster does not serve are skipped.
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
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
)
KEPT_UNLESS_PURGE = frozenset({"PersistentVolumeClaim"})
NEVER_DELETED = frozenset({"Namespace"})


def selector(service: str) -> str:
    """Label selector of every object kubellm applied for ``service``."""
    return f"{MANAGED_BY_LABEL}={MANAGER},{INSTANCE_LABEL}={service}"


def owned_by(obj: dict[str, Any], service: str) -> bool:
    """Whether an object carries both labels of this service (checked here, never left to the server)."""
    labels = labels_of(obj)
    return labels.get(MANAGED_BY_LABEL) == MANAGER and labels.get(INSTANCE_LABEL) == service


def order_key(obj: dict[str, Any]) -> tuple[int, str, str]:
    kind = str(obj.get("kind", ""))
    rank = APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)
    return rank, kind, name_of(obj)


def prepare(objects: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    """Copies of the objects in apply order, each labelled as this service's (prune and delete find them by it)."""
    prepared = []
    for obj in objects:
        copied = copy.deepcopy(obj)
        metadata = copied.setdefault("metadata", {})
        labels = metadata.setdefault("labels", {})
        labels.setdefault(MANAGED_BY_LABEL, MANAGER)
        if copied.get("kind") not in NEVER_DELETED:  # a shared Namespace is no one service's
            labels.setdefault(INSTANCE_LABEL, service)
        metadata.pop("resourceVersion", None)
        metadata.pop("managedFields", None)
        copied.pop("status", None)
        prepared.append(copied)
    return sorted(prepared, key=order_key)


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
        if not owned_by(obj, service) or identity(obj) in wanted or obj.get("kind") in NEVER_DELETED:
            continue
        (delete if purge or obj.get("kind") not in KEPT_UNLESS_PURGE else kept).append(obj)
    return sorted(delete, key=order_key, reverse=True), kept


@dataclass(frozen=True, slots=True)
class Action:
    """One thing apply, prune or delete did (or would do with a dry run)."""

    verb: str  # created, configured, pruned, deleted, kept, gone
    ref: str
    note: str = ""

    def to_json_dict(self) -> dict[str, str]:
        return {"verb": self.verb, "object": self.ref, "note": self.note}


def ref_of(obj: dict[str, Any]) -> str:
    ns = namespace_of(obj)
    return f"{obj.get('kind')}/{ns}/{name_of(obj)}" if ns else f"{obj.get('kind')}/{name_of(obj)}"


def _replaceable(obj: dict[str, Any], exc: ApiError) -> bool:
    return obj.get("kind") == "Job" and exc.status == 422 and "immutable" in exc.what


def preflight(client: KubeClient, objects: list[dict[str, Any]]) -> None:
    """Fail before applying anything when the cluster lacks an API (CRD) the objects need."""
    missing: list[MissingApiError] = []
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in seen:
            continue
        seen.add(key)
        try:
            client.resource(*key)
        except MissingApiError as exc:
            missing.append(exc)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise MissingApiError(
            missing[0].api_version,
            missing[0].kind,
            "; ".join(m.what for m in missing),
            " — and ".join(m.fix for m in missing),
        )


def list_service_objects(client: KubeClient, namespace: str, service: str) -> list[dict[str, Any]]:
    """Every live object labelled as this service's, across the kinds kubellm renders that the cluster serves."""
    found: list[dict[str, Any]] = []
    for api_version, kind in SERVICE_KINDS:
        served = client.resources(api_version)
        if served is None or kind not in served:
            continue
        found += [
            o for o in client.list(api_version, kind, namespace, selector(service)) if owned_by(o, service)
        ]
    return found


def apply_objects(
    client: KubeClient,
    objects: list[dict[str, Any]],
    service: str,
    *,
    dry_run: bool = False,
    prune: bool = False,
    force_conflicts: bool = False,
    on_action: Callable[[Action], None] | None = None,
) -> list[Action]:
    """Server-side apply in kind order (field manager 'kubellm'), then prune this service's leftovers."""
    prepared = prepare(objects, service)
    preflight(client, prepared)
    actions: list[Action] = []

    def done(action: Action) -> None:
        actions.append(action)
        if on_action:
            on_action(action)

    for obj in prepared:
        try:
            created, _ = client.apply(obj, dry_run=dry_run, force_conflicts=force_conflicts)
        except ApiError as exc:
            if not _replaceable(obj, exc):
                raise
            # A Job's pod template is immutable: the prefetch Job of a changed spec replaces the old one.
            client.delete(str(obj["apiVersion"]), str(obj["kind"]), namespace_of(obj), name_of(obj), dry_run)
            client.wait_deleted(
                str(obj["apiVersion"]), str(obj["kind"]), namespace_of(obj), name_of(obj), dry_run
            )
            client.apply(obj, dry_run=dry_run, force_conflicts=force_conflicts)
            done(Action("replaced", ref_of(obj), "a Job's template cannot change in place"))
            continue
        done(Action("created" if created else "configured", ref_of(obj)))
    if prune:
        namespaces = sorted({namespace_of(o) for o in prepared if namespace_of(o)})
        live = [o for ns in namespaces for o in list_service_objects(client, ns, service)]
        delete, kept = prune_candidates(live, prepared, service)
        for obj in delete:
            client.delete(
                str(obj.get("apiVersion")), str(obj.get("kind")), namespace_of(obj), name_of(obj), dry_run
            )
            done(Action("pruned", ref_of(obj)))
        for obj in kept:
            done(Action("kept", ref_of(obj), "model cache; `kubellm delete --purge` removes it"))
    return actions


def delete_service(
    client: KubeClient,
    desired: list[dict[str, Any]],
    namespace: str,
    service: str,
    *,
    purge: bool = False,
    dry_run: bool = False,
    on_action: Callable[[Action], None] | None = None,
) -> list[Action]:
    """Delete the service's objects in reverse apply order; the model-cache PVC and the Namespace stay unless purged."""
    live = list_service_objects(client, namespace, service)
    cluster_scoped = [
        o for o in prepare(desired, service) if not namespace_of(o) and o.get("kind") not in NEVER_DELETED
    ]
    targets: dict[tuple[str, str, str, str], dict[str, Any]] = {identity(o): o for o in live + cluster_scoped}
    actions: list[Action] = []
    for obj in sorted(targets.values(), key=order_key, reverse=True):
        if obj.get("kind") in KEPT_UNLESS_PURGE and not purge:
            action = Action("kept", ref_of(obj), "model cache; add --purge to delete it")
        else:
            api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
            try:
                gone = client.delete(api_version, kind, namespace_of(obj) or None, name_of(obj), dry_run)
            except MissingApiError:
                continue
            action = Action("deleted" if gone else "gone", ref_of(obj))
        actions.append(action)
        if on_action:
            on_action(action)
    return actions
