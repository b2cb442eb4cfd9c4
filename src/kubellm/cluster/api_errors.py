"""What the API server's error answers mean for a user: one KubellmError per status, with the fix."""

from __future__ import annotations

import json
import re

from kubellm.errors import KubellmError


class ClusterError(KubellmError):
    """The cluster could not be reached or refused a request."""


class ApiError(ClusterError):
    """The API server answered with an error status."""

    def __init__(self, status: int, what: str, fix: str, reason: str = "") -> None:
        super().__init__(what, fix)
        self.status = status
        self.reason = reason


class MissingApiError(ClusterError):
    """The cluster does not serve an API group/version or kind (a CRD is not installed)."""

    def __init__(self, api_version: str, kind: str, what: str, fix: str) -> None:
        super().__init__(what, fix)
        self.api_version = api_version
        self.kind = kind


def status_message(body: bytes) -> tuple[str, str]:
    """(message, reason) of a Status body; plain text when the body is not JSON."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:300], ""
    if isinstance(data, dict):
        return str(data.get("message") or data), str(data.get("reason") or "")
    return str(data)[:300], ""


def error_for(status: int, method: str, path: str, body: bytes, server: str) -> ApiError:
    message, reason = status_message(body)
    if status == 401:
        return ApiError(
            status,
            f"the API server at {server} rejected the credentials (401 Unauthorized)",
            "refresh them: log in again with your cloud CLI or regenerate the kubeconfig",
            reason,
        )
    terminating = re.search(
        r"unable to create new content in namespace (\S+) because it is being terminated", message
    )
    if status == 403 and terminating:
        name = terminating.group(1)
        return ApiError(
            status,
            f"namespace {name!r} is being deleted",
            f"wait until it is gone (kubectl get namespace {name}), then apply again",
            reason,
        )
    if status == 403:
        return ApiError(
            status,
            f"forbidden: {message}",
            "ask a cluster admin for a Role with that verb on that resource in the namespace, e.g. "
            "`kubectl create rolebinding kubellm-edit --clusterrole=edit --user=<you> -n <namespace>`; "
            "check with `kubectl auth can-i <verb> <resource> -n <namespace>`",
            reason,
        )
    if status == 409 and method == "PATCH":
        return ApiError(
            status,
            f"apply conflict: {message}",
            "another field manager (kubectl, Helm, a controller) owns these fields; re-run with --force-conflicts "
            "to take them over, or stop managing them elsewhere",
            reason,
        )
    missing_ns = re.search(r'namespaces "([^"]+)" not found', message)
    if status == 404 and missing_ns:
        return ApiError(
            status,
            f"namespace {missing_ns.group(1)!r} does not exist",
            f"create it (kubectl create namespace {missing_ns.group(1)}) or let kubellm render it (the default)",
            reason,
        )
    if status == 422:
        return ApiError(
            status, f"the API server rejected the object: {message}", "fix the field it names", reason
        )
    return ApiError(
        status, f"{method} {path}: {status} {message}", "see the message; `kubectl get --raw` helps", reason
    )
