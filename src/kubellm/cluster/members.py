"""The ApplySet on the server: read and write its parent, find its members (thin I/O over kubellm.cluster.applyset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubellm.cluster import applyset as aset
from kubellm.cluster.access import PRUNE_VERBS, Permission, needs
from kubellm.cluster.client import ApiError, ApiResource, KubeClient
from kubellm.errors import KubellmError


class ApplySetError(KubellmError):
    """The service's ApplySet parent is not kubellm's."""


@dataclass
class Membership:
    """Where an ApplySet's members may be: each group-kind's served resource, and the namespaces."""

    resources: dict[str, ApiResource] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)

    def list_needs(self, namespace_only: bool = False) -> set[Permission]:
        """list on every recorded resource (cluster-scoped ones only when the operation goes beyond a namespace)."""
        wanted: set[Permission] = set()
        for resource in self.resources.values():
            if namespace_only and not resource.namespaced:
                continue
            for ns in sorted(self.namespaces) if resource.namespaced else [None]:
                wanted |= needs(resource, ns, ("list",))
        return wanted


def resolve(client: KubeClient, group_kinds: set[str], namespaces: set[str]) -> Membership:
    """Served resources of the recorded group-kinds (kinds the cluster no longer serves are skipped)."""
    found = Membership(namespaces=set(namespaces))
    for value in sorted(group_kinds):
        resource = client.resource_for_group_kind(*aset.split_group_kind(value))
        if resource is not None:
            found.resources[value] = resource
    return found


def list_members(
    client: KubeClient, membership: Membership, label_selector: str, namespace_only: bool = False
) -> list[dict[str, Any]]:
    """Every live object with the label, across the recorded kinds and namespaces."""
    found: list[dict[str, Any]] = []
    for resource in membership.resources.values():
        if not resource.namespaced:
            if not namespace_only:
                found += client.list(resource.api_version, resource.kind, None, label_selector)
            continue
        for namespace in sorted(membership.namespaces):
            found += client.list(resource.api_version, resource.kind, namespace, label_selector)
    return found


def delete_needs(client: KubeClient, objects: list[dict[str, Any]]) -> set[Permission]:
    """delete on the resources of the objects about to be deleted."""
    wanted: set[Permission] = set()
    for obj in objects:
        resource = client.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        namespace = (obj.get("metadata") or {}).get("namespace")
        wanted |= needs(resource, namespace, PRUNE_VERBS[1:])
    return wanted


def read_recorded(client: KubeClient, parent: aset.ApplySetParent) -> aset.Recorded:
    """What the live parent records (nothing when it, or its namespace, does not exist)."""
    try:
        live = client.get(parent.api_version, parent.kind, parent.namespace, parent.name)
    except ApiError as exc:
        if exc.status == 404:
            return aset.Recorded()
        raise
    try:
        return aset.read_parent(live, parent)
    except aset.ApplySetConflict as exc:
        raise ApplySetError(
            str(exc), f"rename the service, or delete {parent.ref} if nothing of it is in use"
        ) from None


def write_parent(
    client: KubeClient,
    parent: aset.ApplySetParent,
    members: aset.Recorded,
    dry_run: bool,
) -> None:
    """Server-side apply the parent with the given group-kinds and namespaces (its own field manager)."""
    client.apply(
        aset.parent_object(parent, set(members.group_kinds), set(members.namespaces)),
        dry_run=dry_run,
        force_conflicts=True,  # the parent's ApplySet fields are only ever the ApplySet's
        field_manager=aset.PARENT_FIELD_MANAGER,
    )
