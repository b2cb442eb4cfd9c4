"""A thin, synchronous client for the Kubernetes API: discovery, server-side apply, list, get, delete, logs.

Standard library only (urllib + ssl). Every failure becomes a KubellmError with the fix: an unreachable
server, rejected credentials, RBAC denials (403), missing CRDs, field-manager conflicts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from kubellm.cluster.kubeconfig import Credentials
from kubellm.errors import KubellmError

FIELD_MANAGER = "kubellm"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


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


@dataclass(frozen=True, slots=True)
class ApiResource:
    """One resource type as discovery describes it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool


def _status_message(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:300], ""
    if isinstance(data, dict):
        return str(data.get("message") or data), str(data.get("reason") or "")
    return str(data)[:300], ""


def _error_for(status: int, method: str, path: str, body: bytes, server: str) -> ApiError:
    message, reason = _status_message(body)
    if status == 401:
        return ApiError(
            status,
            f"the API server at {server} rejected the credentials (401 Unauthorized)",
            "refresh them: log in again with your cloud CLI or regenerate the kubeconfig",
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


class KubeClient:
    """Requests to one API server with one set of credentials."""

    def __init__(self, creds: Credentials, timeout_s: float = 30.0) -> None:
        self.creds = creds
        self.timeout_s = timeout_s
        self._discovery: dict[str, dict[str, ApiResource] | None] = {}
        self._temp_files: list[str] = []
        self._ssl = self._ssl_context() if creds.server.startswith("https") else None

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.creds.ca_file)
        if self.creds.ca_data:
            context.load_verify_locations(cadata=self.creds.ca_data.decode())
        if self.creds.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.creds.cert_data and self.creds.key_data:
            cert, key = self._temp(self.creds.cert_data), self._temp(self.creds.key_data)
            context.load_cert_chain(cert, key)
        return context

    def _temp(self, data: bytes) -> str:
        fd, path = tempfile.mkstemp(prefix="kubellm-", suffix=".pem")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self._temp_files.append(path)
        return path

    def close(self) -> None:
        for path in self._temp_files:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._temp_files.clear()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw requests ------------------------------------------------------------------------------------

    def request_raw(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        url = self.creds.server + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "kubellm")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.creds.token:
            request.add_header("Authorization", f"Bearer {self.creds.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=self._ssl) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read() or b"")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClusterError(
                f"cannot reach the Kubernetes API at {self.creds.server} (context {self.creds.context}): {reason}",
                "check `kubectl cluster-info`, your VPN or network, and --kubeconfig/--context",
            ) from None

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """JSON response of a request; error statuses raise ApiError."""
        status, raw = self.request_raw(method, path, query, body, content_type)
        if status >= 400:
            raise _error_for(status, method, path, raw, self.creds.server)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise ClusterError(
                f"{method} {path}: the server answered with non-JSON",
                "is --kubeconfig pointing at an API server?",
            ) from None

    # -- discovery ---------------------------------------------------------------------------------------

    def resources(self, api_version: str) -> dict[str, ApiResource] | None:
        """Kinds the server serves under one group/version (None when the group/version is not served)."""
        if api_version not in self._discovery:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            status, raw = self.request_raw("GET", path)
            if status == 404:
                self._discovery[api_version] = None
            elif status >= 400:
                raise _error_for(status, "GET", path, raw, self.creds.server)
            else:
                data = json.loads(raw)
                self._discovery[api_version] = {
                    str(r["kind"]): ApiResource(
                        api_version, str(r["kind"]), str(r["name"]), bool(r.get("namespaced"))
                    )
                    for r in data.get("resources", [])
                    if isinstance(r, dict) and "/" not in str(r.get("name", ""))
                }
        return self._discovery[api_version]

    def resource(self, api_version: str, kind: str) -> ApiResource:
        from kubellm.cluster.crds import missing_api_fix

        served = self.resources(api_version)
        if served is None or kind not in served:
            what, fix = missing_api_fix(api_version, kind)
            raise MissingApiError(api_version, kind, what, fix)
        return served[kind]

    def path(self, res: ApiResource, namespace: str | None, name: str | None = None) -> str:
        base = "/api/v1" if res.api_version == "v1" else f"/apis/{res.api_version}"
        ns = f"/namespaces/{namespace}" if res.namespaced and namespace else ""
        return f"{base}{ns}/{res.plural}" + (f"/{name}" if name else "")

    # -- verbs -------------------------------------------------------------------------------------------

    def apply(
        self, obj: dict[str, Any], dry_run: bool = False, force_conflicts: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        """Server-side apply with field manager 'kubellm'; returns (created, the object as stored)."""
        res = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        query = {"fieldManager": FIELD_MANAGER}
        if force_conflicts:
            query["force"] = "true"
        if dry_run:
            query["dryRun"] = "All"
        path = self.path(res, meta.get("namespace"), str(meta.get("name")))
        status, raw = self.request_raw("PATCH", path, query, obj, APPLY_CONTENT_TYPE)
        if status >= 400:
            raise _error_for(status, "PATCH", path, raw, self.creds.server)
        return status == 201, json.loads(raw) if raw else {}

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        res = self.resource(api_version, kind)
        status, raw = self.request_raw("GET", self.path(res, namespace, name))
        if status == 404:
            return None
        if status >= 400:
            raise _error_for(status, "GET", self.path(res, namespace, name), raw, self.creds.server)
        result: dict[str, Any] = json.loads(raw)
        return result

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        res = self.resource(api_version, kind)
        query = {"labelSelector": label_selector} if label_selector else None
        data = self.request("GET", self.path(res, namespace), query)
        items = [i for i in data.get("items", []) if isinstance(i, dict)]
        for item in items:  # list responses leave kind and apiVersion off the items
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        return items

    def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str, dry_run: bool = False
    ) -> bool:
        """Delete one object (background propagation); False when it was already gone."""
        res = self.resource(api_version, kind)
        path = self.path(res, namespace, name)
        query = {"propagationPolicy": "Background"} | ({"dryRun": "All"} if dry_run else {})
        status, raw = self.request_raw("DELETE", path, query)
        if status == 404:
            return False
        if status >= 400:
            raise _error_for(status, "DELETE", path, raw, self.creds.server)
        return True

    def wait_deleted(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        dry_run: bool = False,
        timeout_s: float = 60.0,
    ) -> None:
        """Poll until an object is gone (a deleted Job lingers while its pods terminate)."""
        deadline = time.monotonic() + timeout_s
        while not dry_run and self.get(api_version, kind, namespace, name) is not None:
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{kind} {namespace}/{name} was deleted but is still there after {timeout_s:.0f} s",
                    f"check its finalizers: kubectl get {kind.lower()} -n {namespace} {name} -o yaml",
                )
            time.sleep(0.5)

    def logs(
        self, namespace: str, pod: str, container: str, previous: bool = False, tail_lines: int = 400
    ) -> str:
        query = {"container": container, "tailLines": str(tail_lines)} | (
            {"previous": "true"} if previous else {}
        )
        status, raw = self.request_raw("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query)
        return raw.decode(errors="replace") if status < 400 else ""

    def proxy_get(self, namespace: str, pod: str, port: int, path: str) -> str | None:
        """GET through the API server's pod proxy (engine /metrics); None when it does not answer."""
        try:
            status, raw = self.request_raw(
                "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}"
            )
        except ClusterError:
            return None
        return raw.decode(errors="replace") if status < 400 else None
