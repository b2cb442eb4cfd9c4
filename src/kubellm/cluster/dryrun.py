"""A server dry run into a namespace that does not exist yet: a stand-in namespace, or the schemas alone.

The API server refuses a dry-run create in a missing namespace (a dry-run Namespace is never
stored), so the namespaced objects are checked in an existing namespace the user can read — their
own context's, else ``default`` — and every line says so. With none readable, the objects are
validated against the Kubernetes schemas, and the lines say that instead.
"""

from __future__ import annotations

from typing import Any

from kubellm.cluster.client import ApiError, KubeClient
from kubellm.cluster.objects import namespace_of
from kubellm.cluster.selection import Action, ref_of
from kubellm.errors import KubellmError


def namespace_exists(client: KubeClient, name: str) -> bool | None:
    """Whether a namespace exists; None when the user may not tell (no get on namespaces)."""
    try:
        return client.get("v1", "Namespace", None, name) is not None
    except ApiError:
        return None


def stand_in_namespace(client: KubeClient, target: str) -> str | None:
    """An existing namespace to validate a dry run in when the target does not exist yet."""
    for candidate in dict.fromkeys((client.creds.namespace, "default")):
        if candidate != target and namespace_exists(client, candidate):
            return candidate
    return None


def retarget(objects: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Copies with every namespaced object moved into ``namespace`` (cluster-scoped ones untouched)."""
    out = []
    for obj in objects:
        if namespace_of(obj):
            obj = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
        out.append(obj)
    return out


def stand_in_notes(stand_in: str, target: str) -> tuple[str, str]:
    """(the note on the Namespace, the note on each object checked in the stand-in)."""
    return (
        f"{target} does not exist yet and a dry run creates nothing: its objects are checked by the server "
        f"in namespace {stand_in}",
        f"checked in namespace {stand_in}",
    )


def schema_only(objects: list[dict[str, Any]], target: str) -> list[Action]:
    """Validate against the Kubernetes schemas when the server cannot (no namespace to dry-run in)."""
    from kubellm.render.validation import newest_version, validate_objects

    problems = validate_objects(objects, newest_version())
    if problems:
        raise KubellmError(
            f"the objects do not validate: {'; '.join(str(p) for p in problems[:5])}",
            "fix the spec; this is a kubellm bug when the spec validated",
        )
    note = (
        f"schemas only: namespace {target} does not exist and no other namespace could be read to dry-run in"
    )
    return [Action("validated", ref_of(o), note, True) for o in objects]
