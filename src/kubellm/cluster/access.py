"""Which permissions an apply, prune or delete needs, which of them the user lacks, and the Role that grants them.

Asked with SelfSubjectAccessReview before anything is written, so a user with a namespace-scoped
binding learns every missing verb at once (with a Role granting exactly those) instead of a 403
half-way through. The needs and the Role are pure; asking the server is one thin function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from kubellm.cluster.api_errors import ApiError, ClusterError
from kubellm.cluster.client import ApiResource, KubeClient

APPLY_VERBS = ("get", "create", "patch")  # GET before, then server-side apply (create when new)
PRUNE_VERBS = ("list", "delete")


@dataclass(frozen=True, slots=True)
class Permission:
    """One verb on one resource, in a namespace (None: cluster-scoped)."""

    namespace: str | None
    group: str
    resource: str
    verb: str

    def sort_key(self) -> tuple[bool, str, str, str, str]:
        return self.namespace is None, self.namespace or "", self.group, self.resource, self.verb

    def __str__(self) -> str:
        where = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {resource} ({where})"


def needs(resource: ApiResource, namespace: str | None, verbs: Iterable[str]) -> set[Permission]:
    scope = namespace if resource.namespaced else None
    return {Permission(scope, resource.group, resource.plural, verb) for verb in verbs}


class AccessError(ClusterError):
    """The user lacks permissions the operation needs; nothing was written."""

    def __init__(self, missing: list[Permission], what: str, fix: str) -> None:
        super().__init__(what, fix)
        self.missing = missing


def role_for(missing: Iterable[Permission], name: str) -> list[dict[str, object]]:
    """A Role per namespace (a ClusterRole for cluster-scoped needs) granting exactly the missing permissions."""
    by_scope: dict[str | None, dict[tuple[str, str], set[str]]] = {}
    for perm in missing:
        by_scope.setdefault(perm.namespace, {}).setdefault((perm.group, perm.resource), set()).add(perm.verb)
    roles: list[dict[str, object]] = []
    for scope in sorted(by_scope, key=lambda s: (s is None, s or "")):
        # one rule per (group, verbs), resources listed together
        rules: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for (group, resource), verbs in sorted(by_scope[scope].items()):
            rules.setdefault((group, tuple(sorted(verbs))), []).append(resource)
        metadata: dict[str, str] = {"name": name} | ({"namespace": scope} if scope else {})
        roles.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role" if scope else "ClusterRole",
                "metadata": metadata,
                "rules": [
                    {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
                    for (group, verbs), resources in sorted(rules.items())
                ],
            }
        )
    return roles


def binding_commands(roles: list[dict[str, object]], user: str) -> list[str]:
    commands = []
    for role in roles:
        meta = role["metadata"]
        assert isinstance(meta, dict)
        if role["kind"] == "Role":
            commands.append(
                f"kubectl create rolebinding {meta['name']} --role={meta['name']} --user={user} -n {meta['namespace']}"
            )
        else:
            commands.append(
                f"kubectl create clusterrolebinding {meta['name']} --clusterrole={meta['name']} --user={user}"
            )
    return commands


def access_error(missing: list[Permission], role_name: str, user: str, hint: str = "") -> AccessError:
    """The error listing every missing permission, with the Role (YAML) and binding that grant them."""
    roles = role_for(missing, role_name)
    listing = "; ".join(str(p) for p in sorted(missing, key=Permission.sort_key))
    text = yaml.safe_dump_all(roles, sort_keys=False).rstrip()
    fix = (
        (hint + "; or " if hint else "")
        + "ask a cluster admin to grant exactly these with:\n"
        + text
        + "\n---\n# then:\n"
        + "\n".join(binding_commands(roles, user))
    )
    return AccessError(missing, f"you lack {len(missing)} permission(s) this needs: {listing}", fix)


def who_am_i(client: KubeClient) -> str:
    """The user name the server sees (SelfSubjectReview); '<you>' when the server does not say."""
    try:
        answer = client.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    except ApiError:
        return "<you>"
    return str(((answer.get("status") or {}).get("userInfo") or {}).get("username") or "<you>")


def missing_permissions(client: KubeClient, wanted: Iterable[Permission]) -> list[Permission] | None:
    """The permissions the server denies (SelfSubjectAccessReview each); None when it cannot be asked."""
    missing = []
    for perm in sorted(set(wanted), key=Permission.sort_key):
        try:
            allowed, _ = client.can_i(perm.verb, perm.group, perm.resource, perm.namespace)
        except ApiError:
            return None
        if not allowed:
            missing.append(perm)
    return missing
