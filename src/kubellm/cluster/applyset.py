"""ApplySet (KEP-3659): the parent object and member labels that say which objects belong to a service.

The same convention ``kubectl apply --prune --applyset`` follows, so kubectl and kubellm agree on
membership: the parent (a Secret, kubectl's default parent kind) carries the ApplySet id label, the
tooling annotation and the group-kinds (and additional namespaces) its members live in; every member
carries ``applyset.kubernetes.io/part-of=<id>``. Prune and delete list only the recorded group-kinds,
with that label. Everything here is pure.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from kubellm import __version__
from kubellm.cluster.objects import annotations_of, labels_of, namespace_of

PART_OF_LABEL = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
TOOL_NAME = "kubellm"
TOOLING = f"{TOOL_NAME}/v{__version__}"
# The parent's own field manager, as kubectl uses "kubectl-applyset" beside "kubectl".
PARENT_FIELD_MANAGER = f"{TOOL_NAME}-applyset"


class ApplySetConflict(ValueError):
    """The parent exists but belongs to another tool or another ApplySet."""


@dataclass(frozen=True, slots=True)
class ApplySetParent:
    """Which object is the parent: kind, group, name and namespace make the id."""

    name: str
    namespace: str
    kind: str = "Secret"
    group: str = ""

    @property
    def id(self) -> str:
        """base64url(sha256('<name>.<namespace>.<kind>.<group>')), framed as kubectl frames it."""
        digest = hashlib.sha256(f"{self.name}.{self.namespace}.{self.kind}.{self.group}".encode()).digest()
        return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"

    @property
    def api_version(self) -> str:
        return "v1" if not self.group else f"{self.group}/v1"

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def parent_for(service: str, namespace: str) -> ApplySetParent:
    """The parent of one service: a Secret named '<service>-applyset' in the service's namespace."""
    return ApplySetParent(name=f"{service}-applyset", namespace=namespace)


def group_kind(obj: dict[str, Any]) -> str:
    """'Kind.group' as kubectl writes a GroupKind ('Service' for the core group)."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind", ""))
    return f"{kind}.{group}" if group else kind


def split_group_kind(value: str) -> tuple[str, str]:
    """(group, kind) of 'Kind.group'."""
    kind, _, group = value.partition(".")
    return group, kind


def join_sorted(values: set[str]) -> str:
    return ",".join(sorted(v for v in values if v))


def split_list(value: str | None) -> set[str]:
    return {v.strip() for v in (value or "").split(",") if v.strip()}


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a live parent says: the group-kinds and namespaces its members may be in."""

    group_kinds: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    exists: bool = False


def read_parent(live: dict[str, Any] | None, parent: ApplySetParent) -> Recorded:
    """The recorded membership of a live parent; a parent of another tool or id is a conflict."""
    if live is None:
        return Recorded()
    annotations, labels = annotations_of(live), labels_of(live)
    tooling = annotations.get(TOOLING_ANNOTATION)
    if tooling is None:
        raise ApplySetConflict(
            f"{parent.ref} exists but has no {TOOLING_ANNOTATION} annotation: it is not an ApplySet parent"
        )
    if tooling.split("/", 1)[0] != TOOL_NAME:
        raise ApplySetConflict(f"{parent.ref} is an ApplySet managed by {tooling!r}, not by {TOOL_NAME}")
    if labels.get(ID_LABEL) != parent.id:
        raise ApplySetConflict(
            f"{parent.ref} has {ID_LABEL}={labels.get(ID_LABEL)!r}, expected {parent.id!r}"
        )
    namespaces = split_list(annotations.get(NAMESPACES_ANNOTATION)) | {parent.namespace}
    return Recorded(
        frozenset(split_list(annotations.get(GROUP_KINDS_ANNOTATION))), frozenset(namespaces), True
    )


def membership(objects: list[dict[str, Any]]) -> Recorded:
    """The group-kinds and namespaces of the objects about to be applied."""
    return Recorded(
        frozenset(group_kind(o) for o in objects),
        frozenset(namespace_of(o) for o in objects if namespace_of(o)),
        True,
    )


def parent_object(parent: ApplySetParent, group_kinds: set[str], namespaces: set[str]) -> dict[str, Any]:
    """The server-side apply body of the parent (metadata only, as kubectl sends it)."""
    return {
        "apiVersion": parent.api_version,
        "kind": parent.kind,
        "metadata": {
            "name": parent.name,
            "namespace": parent.namespace,
            "labels": {ID_LABEL: parent.id},
            "annotations": {
                TOOLING_ANNOTATION: TOOLING,
                GROUP_KINDS_ANNOTATION: join_sorted(group_kinds),
                NAMESPACES_ANNOTATION: join_sorted(namespaces - {parent.namespace}),
            },
        },
    }


def is_member(obj: dict[str, Any], parent: ApplySetParent) -> bool:
    return labels_of(obj).get(PART_OF_LABEL) == parent.id
