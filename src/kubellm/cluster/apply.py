"""Apply, prune and delete a service's objects as an ApplySet (KEP-3659), through the thin client.

Apply checks first and writes after: the APIs (CRDs) the objects need, the ApplySet parent, the
members to prune, and every permission all of that takes (SelfSubjectAccessReview) — nothing is
written when any is missing. Then it records the kinds about to be applied on the parent, server-side
applies each object in kind order (a GET before says created / configured / unchanged), deletes the
members the spec no longer renders and records exactly what remains. Delete lists only the kinds the
parent records. A namespace-scoped apply leaves out the Namespace, cluster-scoped objects and the
quota. A server dry run into a namespace that does not exist yet is checked in a stand-in namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubellm.cluster import applyset as aset
from kubellm.cluster.access import APPLY_VERBS, Permission, access_error, missing_permissions, needs, who_am_i
from kubellm.cluster.client import ApiError, ApiResource, KubeClient, MissingApiError
from kubellm.cluster.dryrun import namespace_exists, retarget, schema_only, stand_in_namespace, stand_in_notes
from kubellm.cluster.members import (
    ApplySetError,
    Membership,
    delete_needs,
    list_members,
    read_recorded,
    resolve,
    write_parent,
)
from kubellm.cluster.objects import labels_of, name_of, namespace_of
from kubellm.cluster.selection import (
    KEPT_UNLESS_PURGE,
    NEVER_MEMBERS,
    SERVICE_KINDS,
    Action,
    apply_verb,
    identity,
    order_key,
    owned_by,
    prepare,
    prune_candidates,
    ref_of,
    scope,
    selector,
)

__all__ = [
    "SERVICE_KINDS",
    "Action",
    "ApplySetError",
    "apply_objects",
    "delete_service",
    "preflight",
    "prepare",
    "prune_candidates",
    "selector",
]

Notify = Callable[[Action], None] | None
NO_NAMESPACE_HINT = (
    "apply with --no-namespace (or metadata.namespace_only: true) to leave out what needs more"
)


def preflight(client: KubeClient, objects: list[dict[str, Any]]) -> dict[tuple[str, str], ApiResource]:
    """The served resource of every kind; fail before anything is applied when an API (a CRD) is missing."""
    missing: list[MissingApiError] = []
    found: dict[tuple[str, str], ApiResource] = {}
    for obj in objects:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in found:
            continue
        try:
            found[key] = client.resource(*key)
        except MissingApiError as exc:
            if all(m.kind != exc.kind for m in missing):
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
    return found


def _require(client: KubeClient, wanted: set[Permission], service: str, namespace_only: bool) -> None:
    missing = missing_permissions(client, wanted)
    if missing:
        admin_level = any(
            p.namespace is None or p.resource in ("resourcequotas", "limitranges") for p in missing
        )
        hint = NO_NAMESPACE_HINT if admin_level and not namespace_only else ""
        raise access_error(missing, f"kubellm-{service}", who_am_i(client), hint)


def _apply_one(
    client: KubeClient, obj: dict[str, Any], ref: str, dry_run: bool, force_conflicts: bool, note: str = ""
) -> Action:
    api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
    before = client.get(api_version, kind, namespace_of(obj) or None, name_of(obj))
    try:
        after = client.apply(obj, dry_run=dry_run, force_conflicts=force_conflicts)
    except ApiError as exc:
        if not (kind == "Job" and exc.status == 422 and "immutable" in exc.what):
            raise
        # A Job's pod template is immutable: the prefetch Job of a changed spec replaces the old one.
        client.delete(api_version, kind, namespace_of(obj), name_of(obj), dry_run)
        client.wait_deleted(api_version, kind, namespace_of(obj), name_of(obj), dry_run)
        client.apply(obj, dry_run=dry_run, force_conflicts=force_conflicts)
        return Action("replaced", ref, "a Job's template cannot change in place", dry_run)
    return Action(apply_verb(obj, before, after, client.field_manager), ref, note, dry_run)


def _stale_members(
    client: KubeClient,
    parent: aset.ApplySetParent,
    recorded: aset.Recorded,
    membership: Membership,
    service: str,
    namespace_only: bool,
) -> list[dict[str, Any]]:
    """Live members of the ApplySet (and, on its first apply, objects older kubellm versions labelled)."""
    live = list_members(client, membership, f"{aset.PART_OF_LABEL}={parent.id}", namespace_only)
    if not recorded.exists:
        live += [
            o
            for o in list_members(client, membership, selector(service), namespace_only)
            if aset.PART_OF_LABEL not in labels_of(o)
        ]
    return live


def apply_objects(
    client: KubeClient,
    objects: list[dict[str, Any]],
    service: str,
    *,
    namespace: str | None = None,
    dry_run: bool = False,
    prune: bool = False,
    force_conflicts: bool = False,
    namespace_only: bool = False,
    on_action: Notify = None,
) -> list[Action]:
    """Server-side apply the service's objects as an ApplySet; with prune, delete what it no longer renders."""
    namespace = namespace or next((namespace_of(o) for o in objects if namespace_of(o)), "default")
    parent = aset.parent_for(service, namespace)
    desired = prepare(objects, service, parent)
    members, skipped = scope(desired, namespace_only)
    actions: list[Action] = []

    def done(action: Action) -> None:
        actions.append(action)
        if on_action:
            on_action(action)

    # -- checks: nothing is written until all of them pass -------------------------------------------
    resources = preflight(client, members)
    new = aset.membership([m for m in members if m.get("kind") not in NEVER_MEMBERS])
    wanted = {p for o in members for p in needs(resources[_key(o)], namespace_of(o), APPLY_VERBS)}
    wanted |= needs(client.resource("v1", "Secret"), namespace, APPLY_VERBS)
    creates_namespace = any(o.get("kind") == "Namespace" and name_of(o) == namespace for o in members)
    if dry_run and creates_namespace and namespace_exists(client, namespace) is False:
        _require(client, wanted, service, namespace_only)
        for action in skipped:
            done(action)
        _dry_run_elsewhere(client, members, namespace, force_conflicts, done)
        return actions
    recorded = aset.Recorded()
    stale: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    if prune:
        membership = resolve(client, set(new.group_kinds), set(new.namespaces))
        _require(client, wanted | membership.list_needs(namespace_only), service, namespace_only)
        recorded = read_recorded(client, parent)
        membership = resolve(
            client, set(recorded.group_kinds | new.group_kinds), set(recorded.namespaces | new.namespaces)
        )
        _require(client, membership.list_needs(namespace_only), service, namespace_only)
        live = _stale_members(client, parent, recorded, membership, service, namespace_only)
        stale, kept = prune_candidates(live, desired, service)
        _require(client, delete_needs(client, stale), service, namespace_only)
    else:
        _require(client, wanted, service, namespace_only)
        recorded = read_recorded(client, parent)

    # -- writes ----------------------------------------------------------------------------------------
    for action in skipped:
        done(action)
    for obj in members:  # the Namespace first: the parent Secret lives in it
        if obj.get("kind") in NEVER_MEMBERS:
            done(_apply_one(client, obj, ref_of(obj), dry_run, force_conflicts))
    superset = aset.Recorded(
        recorded.group_kinds | new.group_kinds, recorded.namespaces | new.namespaces, True
    )
    write_parent(client, parent, superset, dry_run)
    for obj in members:
        if obj.get("kind") not in NEVER_MEMBERS:
            done(_apply_one(client, obj, ref_of(obj), dry_run, force_conflicts))
    if not prune:
        return actions
    for obj in stale:
        client.delete(
            str(obj.get("apiVersion")), str(obj.get("kind")), namespace_of(obj) or None, name_of(obj), dry_run
        )
        done(Action("pruned", ref_of(obj), dry_run=dry_run))
    for obj in kept:
        done(Action("kept", ref_of(obj), "model cache; `kubellm delete --purge` removes it", dry_run))
    member_ids = {identity(m) for m in members}
    left_out = [o for o in desired if identity(o) not in member_ids and o.get("kind") not in NEVER_MEMBERS]
    still = aset.membership(kept + left_out)
    latest = aset.Recorded(new.group_kinds | still.group_kinds, new.namespaces | still.namespaces, True)
    write_parent(client, parent, latest, dry_run)
    return actions


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return str(obj.get("apiVersion")), str(obj.get("kind"))


def _dry_run_elsewhere(
    client: KubeClient,
    members: list[dict[str, Any]],
    target: str,
    force_conflicts: bool,
    done: Callable[[Action], None],
) -> None:
    """A server dry run for a namespace that does not exist: each object checked in a stand-in namespace."""
    stand_in = stand_in_namespace(client, target)
    namespace_note, object_note = stand_in_notes(stand_in, target) if stand_in else ("", "")
    for obj in (o for o in members if not namespace_of(o)):
        note = namespace_note if obj.get("kind") == "Namespace" and name_of(obj) == target else ""
        done(_apply_one(client, obj, ref_of(obj), True, force_conflicts, note))
    namespaced = [o for o in members if namespace_of(o)]
    if stand_in is None:
        for action in schema_only(namespaced, target):
            done(action)
        return
    for obj, moved in zip(namespaced, retarget(namespaced, stand_in), strict=True):
        done(_apply_one(client, moved, ref_of(obj), True, force_conflicts, object_note))


def _claims(client: KubeClient, namespace: str, service: str) -> list[dict[str, Any]]:
    """Model-cache claims a StatefulSet made from its volumeClaimTemplates: labelled as the service's but
    no member of its ApplySet, and kept by the StatefulSet when it is deleted."""
    claims = client.list("v1", "PersistentVolumeClaim", namespace, selector(service))
    return [c for c in claims if owned_by(c, service) and aset.PART_OF_LABEL not in labels_of(c)]


def delete_service(
    client: KubeClient,
    desired: list[dict[str, Any]],
    namespace: str,
    service: str,
    *,
    purge: bool = False,
    dry_run: bool = False,
    namespace_only: bool = False,
    on_action: Notify = None,
) -> list[Action]:
    """Delete the ApplySet's members in reverse apply order; the model-cache PVC stays unless purged."""
    parent = aset.parent_for(service, namespace)
    secret = needs(client.resource("v1", "Secret"), namespace, ("get",))
    _require(client, secret, service, namespace_only)
    recorded = read_recorded(client, parent)
    extra: list[dict[str, Any]] = []
    if recorded.exists:
        membership = resolve(client, set(recorded.group_kinds), set(recorded.namespaces))
        label_selector = f"{aset.PART_OF_LABEL}={parent.id}"
        secret |= needs(client.resource("v1", "Secret"), namespace, ("patch", "delete"))
    else:  # applied before ApplySets (or never): the kinds the spec renders, found by the service's labels
        prepared = [o for o in prepare(desired, service) if o.get("kind") not in NEVER_MEMBERS]
        membership = resolve(client, {aset.group_kind(o) for o in prepared}, {namespace})
        label_selector = selector(service)
        extra = [] if namespace_only else [o for o in prepared if not namespace_of(o)]
    # a StatefulSet leaves the claims of its volumeClaimTemplates behind (and a parent whose delete kept
    # them records PersistentVolumeClaim): list those claims too, then
    with_claims = bool({"StatefulSet.apps", "PersistentVolumeClaim"} & set(membership.resources))
    claims = (
        needs(client.resource("v1", "PersistentVolumeClaim"), namespace, ("list",)) if with_claims else set()
    )
    _require(client, membership.list_needs(namespace_only) | claims, service, namespace_only)
    live = [
        o for o in list_members(client, membership, label_selector, namespace_only) if owned_by(o, service)
    ]
    live += _claims(client, namespace, service) if with_claims else []
    targets = {identity(o): o for o in live + extra}
    ordered, skipped = scope(sorted(targets.values(), key=order_key, reverse=True), namespace_only)
    left_out = [o for o in targets.values() if o not in ordered]
    kept = [o for o in ordered if o.get("kind") in KEPT_UNLESS_PURGE and not purge]
    doomed = [o for o in ordered if o not in kept]
    _require(client, secret | delete_needs(client, doomed), service, namespace_only)
    actions: list[Action] = list(skipped)
    if on_action:
        for action in skipped:
            on_action(action)
    for obj in ordered:
        if obj in kept:
            action = Action("kept", ref_of(obj), "model cache; add --purge to delete it", dry_run)
        else:
            api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
            gone = client.delete(api_version, kind, namespace_of(obj) or None, name_of(obj), dry_run)
            action = Action("deleted" if gone else "gone", ref_of(obj), dry_run=dry_run)
        actions.append(action)
        if on_action:
            on_action(action)
    if recorded.exists:
        if kept or left_out:  # the parent goes on recording what is left, so `delete --purge` finds it later
            write_parent(client, parent, aset.membership(kept + left_out), dry_run)
        else:
            client.delete(parent.api_version, parent.kind, parent.namespace, parent.name, dry_run)
    return actions
