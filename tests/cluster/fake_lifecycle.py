"""Object lifecycle in the API double, as kube-apiserver 1.36 answers it (captured in data/apiserver/lifecycle-*.json):

- create (POST) and update (PUT) with optimistic concurrency: 409 AlreadyExists, 409 Conflict on a stale
  resourceVersion, with the real Status bodies;
- merge patch (RFC 7386) and JSON patch (RFC 6902, its ``test`` op failing with 422), as kopf sends them;
- the status subresource of custom resources: a write to the resource ignores ``status``, a write to
  ``/status`` ignores everything else; ``metadata.generation`` moves only when the spec changes (and when
  deletion starts);
- finalizers: DELETE of an object with finalizers sets ``deletionTimestamp`` and keeps it; removing the
  last finalizer removes it; no new finalizer may be added while it is being deleted (422);
- owner references: when an owner is gone, the garbage collector (the controller-manager's, simulated
  here at once) deletes every dependent whose owners are all gone — background propagation.

Everything works on the double's store through ``fake`` (a FakeApiServer); each change is announced to
watches with ``fake._notify``.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import jsonpatch

from .fake_semantics import status_body

DATA = Path(__file__).parent / "data" / "apiserver"
LIFECYCLE_KINDS = {
    "kubellm.dev/v1alpha1": [("LLMService", "llmservices", True)],
    "coordination.k8s.io/v1": [("Lease", "leases", True)],
    "apiextensions.k8s.io/v1": [("CustomResourceDefinition", "customresourcedefinitions", False)],
}
STATUS_SUBRESOURCE = frozenset({"llmservices"})  # the CRD's subresources.status
Key = tuple[str, str, str, str]


def _group_resource(api_version: str, plural: str) -> str:
    group = api_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def _details(api_version: str, plural: str, name: str) -> dict[str, Any]:
    group = api_version.rpartition("/")[0]
    return {"name": name, **({"group": group} if group else {}), "kind": plural}


def already_exists(api_version: str, plural: str, name: str) -> tuple[int, Any]:
    message = f'{_group_resource(api_version, plural)} "{name}" already exists'
    return 409, status_body(409, "AlreadyExists", message, _details(api_version, plural, name))


def conflict(api_version: str, plural: str, name: str) -> tuple[int, Any]:
    message = (
        f'Operation cannot be fulfilled on {_group_resource(api_version, plural)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return 409, status_body(409, "Conflict", message, _details(api_version, plural, name))


def not_found(api_version: str, plural: str, name: str) -> tuple[int, Any]:
    message = f'{_group_resource(api_version, plural)} "{name}" not found'
    return 404, status_body(404, "NotFound", message, _details(api_version, plural, name))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null deletes, everything else (lists included) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _stamp_new(fake: Any, key: Key, kind: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(body)
    obj["apiVersion"], obj["kind"] = api_version, kind
    meta = obj.setdefault("metadata", {})
    if key[2]:
        meta["namespace"] = key[2]
    meta.update(
        {
            "uid": f"uid-{key[1]}-{key[2]}-{key[3]}-{fake._next_rv()}",
            "resourceVersion": str(fake._next_rv()),
            "creationTimestamp": _now(),
        }
    )
    if "spec" in obj:
        meta["generation"] = 1
    return obj


def create(fake: Any, key: Key, kind: str, api_version: str, body: Any, dry_run: bool) -> tuple[int, Any]:
    """POST: the new object (201), or 409 AlreadyExists; ``generateName`` gets a suffix as the server adds one."""
    meta = (body or {}).get("metadata") or {}
    name = str(meta.get("name") or "")
    if not name and meta.get("generateName"):
        name = f"{meta['generateName']}{fake._next_rv():05x}"[-63:]
        body = {**body, "metadata": {**meta, "name": name}}
    key = (key[0], key[1], key[2], name)
    if key in fake.store:
        return already_exists(api_version, key[1], name)
    obj = _stamp_new(fake, key, kind, api_version, body or {})
    if key[1] in STATUS_SUBRESOURCE:
        obj.pop("status", None)
    if not dry_run:
        fake.store[key] = obj
        fake._notify("ADDED", key[:3], obj)
    return 201, obj


def update(fake: Any, key: Key, api_version: str, body: Any, subresource: str | None) -> tuple[int, Any]:
    """PUT: replace the object when the resourceVersion sent is the stored one, else 409 Conflict."""
    old = fake.store.get(key)
    if old is None:
        return not_found(api_version, key[1], key[3])
    sent_rv = str(((body or {}).get("metadata") or {}).get("resourceVersion") or "")
    if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
        return conflict(api_version, key[1], key[3])
    return _store(fake, key, old, copy.deepcopy(body), subresource)


def patch(
    fake: Any, key: Key, api_version: str, ctype: str, body: Any, subresource: str | None
) -> tuple[int, Any]:
    """PATCH with a merge patch or a JSON patch (server-side apply stays the double's own)."""
    old = fake.store.get(key)
    if old is None:
        return not_found(api_version, key[1], key[3])
    if ctype.startswith("application/merge-patch+json"):
        new = merge_patch(old, body)
    elif ctype.startswith("application/json-patch+json"):
        try:
            new = jsonpatch.apply_patch(old, body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            return 422, status_body(422, "Invalid", f"the server rejected our request: {exc}", None)
    else:
        return 415, status_body(415, "UnsupportedMediaType", f"unsupported patch type {ctype}", None)
    return _store(fake, key, old, new, subresource)


def _store(
    fake: Any, key: Key, old: dict[str, Any], new: dict[str, Any], subresource: str | None
) -> tuple[int, Any]:
    plural = key[1]
    if plural in STATUS_SUBRESOURCE:
        if subresource == "status":  # only the status moves
            new = {**copy.deepcopy(old), "status": new.get("status")}
            if new["status"] is None:
                new.pop("status")
        else:  # the status stays what it was
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
    meta, old_meta = new.setdefault("metadata", {}), old.get("metadata") or {}
    for kept in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "generation"):
        if kept in old_meta:
            meta[kept] = old_meta[kept]
    added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
    if old_meta.get("deletionTimestamp") and added:
        message = (
            f'{new.get("kind")}.{key[0].rpartition("/")[0]} "{key[3]}" is invalid: metadata.finalizers: Forbidden: no '
            f"new finalizers can be added if the object is being deleted, found new finalizers {sorted(added)}"
        )
        return 422, status_body(422, "Invalid", message, None)
    if "generation" in old_meta and new.get("spec") != old.get("spec"):
        meta["generation"] = int(old_meta["generation"]) + 1
    if new == {**old, "metadata": {**old_meta, "resourceVersion": old_meta.get("resourceVersion")}}:
        return 200, old
    meta["resourceVersion"] = str(fake._next_rv())
    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
        meta.pop("finalizers", None)
        remove(fake, key)
        return 200, new
    fake.store[key] = new
    fake._notify("MODIFIED", key[:3], new)
    return 200, new


def delete(fake: Any, key: Key, api_version: str, dry_run: bool) -> tuple[int, Any]:
    """DELETE: gone at once without finalizers (dependents collected); with them, marked for deletion."""
    obj = fake.store.get(key)
    if obj is None:
        return not_found(api_version, key[1], key[3])
    if dry_run:
        return 200, obj
    meta = obj["metadata"]
    if meta.get("finalizers"):
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = _now()
            meta["deletionGracePeriodSeconds"] = 0
            if "generation" in meta:
                meta["generation"] = int(meta["generation"]) + 1
            meta["resourceVersion"] = str(fake._next_rv())
            fake._notify("MODIFIED", key[:3], obj)
        return 200, obj
    remove(fake, key)
    details = {**_details(api_version, key[1], key[3]), "uid": meta.get("uid")}
    return 200, {**status_body(200, "", "", details), "status": "Success"}


def remove(fake: Any, key: Key) -> None:
    """Take an object out of the store, then let the garbage collector take its orphaned dependents."""
    gone = fake.store.pop(key, None)
    if gone is None:
        return
    fake._notify("DELETED", key[:3], gone)
    collect_garbage(fake)


def collect_garbage(fake: Any) -> None:
    """Delete every object whose owner references all point at objects that no longer exist (background)."""
    while True:
        live = {str((o.get("metadata") or {}).get("uid")) for o in fake.store.values()}
        orphans = [
            (key, obj)
            for key, obj in fake.store.items()
            if (refs := (obj.get("metadata") or {}).get("ownerReferences"))
            and all(str(r.get("uid")) not in live for r in refs)
        ]
        if not orphans:
            return
        for key, obj in orphans:
            if (obj.get("metadata") or {}).get("finalizers"):
                obj["metadata"].setdefault("deletionTimestamp", _now())
                continue
            fake.store.pop(key, None)
            fake._notify("DELETED", key[:3], obj)
        if all((o.get("metadata") or {}).get("finalizers") for _, o in orphans):
            return


def captured(name: str) -> Any:
    """A Status body the real server answered (data/apiserver/lifecycle-*.json), for the fidelity tests."""
    return json.loads((DATA / f"lifecycle-{name}.json").read_text())
