"""What the API double takes from the real server's answers: Status bodies, RBAC messages, dropped zero values."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "apiserver"
DROPPED = json.loads((DATA / "dropped-fields.json").read_text())["dropped"]
POD_TEMPLATE_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet", "ReplicaSet"}


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None) -> dict[str, Any]:
    """A metav1.Status as kube-apiserver writes it (no details key when there are none)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
    }
    if details:
        body["details"] = details
    body["code"] = code
    return body


def forbidden_status(
    user: str, verb: str, plural: str, api_version: str, name: str | None, namespace: str
) -> dict[str, Any]:
    """The RBAC 403 of kube-apiserver, word for word."""
    group = api_version.rpartition("/")[0]
    resource = f"{plural}.{group}" if group else plural
    target = f'{resource} "{name}"' if name else resource
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = f'{target} is forbidden: User "{user}" cannot {verb} resource "{plural}" in API group "{group}"{where}'
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = plural
    return status_body(403, "Forbidden", message, details)


def matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, re.split(r",(?![^(]*\))", selector)):
        term = term.strip()
        in_match = re.match(r"^(\S+)\s+in\s+\(([^)]*)\)$", term)
        if in_match:
            if labels.get(in_match.group(1)) not in [v.strip() for v in in_match.group(2).split(",")]:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term not in labels:
            return False
    return True


def _drop(node: Any, parts: list[str], zero: Any) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    name, many = (head[:-3], True) if head.endswith("[*]") else (head, False)
    if not isinstance(node, dict) or name not in node:
        return
    if many:
        for item in node[name] if isinstance(node[name], list) else []:
            _drop(item, rest, zero)
    elif rest:
        _drop(node[name], rest, zero)
    elif node[name] == zero and type(node[name]) is type(zero):
        del node[name]


def drop_zero_values(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Remove the zero values the real server does not store (data/apiserver/dropped-fields.json).

    The container fields hold for every pod template, as the Go types are shared.
    """
    for rule in DROPPED:
        path = str(rule["path"])
        if rule["kind"] == kind or (path.startswith("spec.template.") and kind in POD_TEMPLATE_KINDS):
            _drop(obj, path.split("."), rule["value"])
    return obj
