"""The Kubernetes client: lightkube underneath, plain dicts on top.

lightkube brings the TLS set-up as client-go does it (a kubeconfig's ``certificate-authority-data`` is
the only trusted CA), server-side apply, paginated lists and watches. kubellm adds discovery (which
kinds the cluster serves, a missing CRD named with its fix), authentication that refreshes on 401
(``kubellm.cluster.auth``), and errors a person can act on. Every object in and out is a plain dict,
so the decisions above this layer stay pure functions over data.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
from lightkube import ALL_NS, Client
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, User
from lightkube.core.exceptions import ApiError as LightkubeApiError
from lightkube.core.resource import ApiInfo
from lightkube.generic_resource import GenericGlobalResource, GenericNamespacedResource, create_api_info
from lightkube.types import CascadeType

from kubellm.cluster.api_errors import ApiError, ClusterError, MissingApiError, error_for
from kubellm.cluster.auth import KubeAuth
from kubellm.cluster.kubeconfig import Credentials

__all__ = ["FIELD_MANAGER", "ApiError", "ApiResource", "ClusterError", "KubeClient", "MissingApiError"]

FIELD_MANAGER = "kubellm"
LIST_CHUNK = 500  # objects per list request; lightkube follows the continue token


@dataclass(frozen=True, slots=True)
class ApiResource:
    """One resource type as discovery describes it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


@functools.cache
def _resource_class(res: ApiResource) -> Any:
    """A lightkube resource class for a discovered kind (kept out of lightkube's global registry)."""
    group, _, version = res.api_version.rpartition("/")
    base: type[Any] = GenericNamespacedResource if res.namespaced else GenericGlobalResource
    info: ApiInfo = create_api_info(group, version, res.kind, res.plural)
    return type(res.kind, (base,), {"_api_info": info})


def _lightkube_config(creds: Credentials) -> SingleConfig:
    """The cluster and client certificate for lightkube; tokens are KubeAuth's job."""
    import base64

    def b64(data: bytes | None) -> str | None:
        return base64.b64encode(data).decode() if data else None

    cluster = Cluster(
        server=creds.server,
        certificate_auth=creds.ca_file,
        certificate_auth_data=b64(creds.ca_data) if not creds.ca_file else None,
        insecure=creds.insecure,
    )
    user = User(client_cert_data=b64(creds.cert_data), client_key_data=b64(creds.key_data))
    config = KubeConfig.from_one(cluster=cluster, user=user, namespace=creds.namespace).get()
    assert config is not None
    return config


class KubeClient:
    """Requests to one API server with one set of credentials."""

    def __init__(
        self, creds: Credentials, timeout_s: float = 30.0, field_manager: str = FIELD_MANAGER
    ) -> None:
        self.creds = creds
        self.field_manager = (
            field_manager  # whose fields server-side apply records ('kubellm-operator' in the operator)
        )
        self.auth = KubeAuth(creds)
        self._lightkube = Client(
            config=_lightkube_config(creds),
            timeout=httpx2.Timeout(timeout_s),
            field_manager=FIELD_MANAGER,
            trust_env=False,
        )
        # lightkube builds the HTTP client (TLS as client-go does); authentication is ours, so it can re-run.
        self._http: httpx2.Client = self._lightkube._client._client
        self._http.auth = self.auth
        self._discovery: dict[str, dict[str, ApiResource] | None] = {}
        self._groups: dict[str, str] | None = None

    def close(self) -> None:
        self._lightkube.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw requests ------------------------------------------------------------------------------------

    def _unreachable(self, exc: Exception) -> ClusterError:
        return ClusterError(
            f"cannot reach the Kubernetes API at {self.creds.server} (context {self.creds.context}): {exc}",
            "check `kubectl cluster-info`, your VPN or network, and --kubeconfig/--context",
        )

    def request_raw(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, bytes]:
        """One request; the status and the body (transport failures raise ClusterError)."""
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "User-Agent": "kubellm"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(method, path, params=query, content=content, headers=headers)
        except httpx2.TransportError as exc:
            raise self._unreachable(exc) from None
        return response.status_code, response.content

    def request(self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
        """JSON response of a request; error statuses raise ApiError."""
        status, raw = self.request_raw(method, path, query, body)
        if status >= 400:
            raise error_for(status, method, path, raw, self.creds.server)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise ClusterError(
                f"{method} {path}: the server answered with non-JSON",
                "is --kubeconfig pointing at an API server?",
            ) from None

    def _call(self, what: str, path: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """A lightkube call with its errors turned into kubellm's."""
        try:
            return func(*args, **kwargs)
        except LightkubeApiError as exc:
            raise error_for(
                exc.status.code or 500, what, path, exc.response.content, self.creds.server
            ) from None
        except httpx2.HTTPStatusError as exc:
            raise error_for(
                exc.response.status_code, what, path, exc.response.content, self.creds.server
            ) from None
        except httpx2.TransportError as exc:
            raise self._unreachable(exc) from None

    # -- discovery ---------------------------------------------------------------------------------------

    def resources(self, api_version: str) -> dict[str, ApiResource] | None:
        """Kinds the server serves under one group/version (None when the group/version is not served)."""
        if api_version not in self._discovery:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            status, raw = self.request_raw("GET", path)
            if status == 404:
                self._discovery[api_version] = None
            elif status >= 400:
                raise error_for(status, "GET", path, raw, self.creds.server)
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

    def preferred_versions(self) -> dict[str, str]:
        """group → its preferred version as '<group>/<version>' ('' → 'v1' for the core group)."""
        if self._groups is None:
            groups = {"": "v1"}
            for group in self.request("GET", "/apis").get("groups") or []:
                preferred = (group.get("preferredVersion") or {}).get("groupVersion")
                versions = [v.get("groupVersion") for v in group.get("versions") or []]
                if preferred or versions:
                    groups[str(group.get("name"))] = str(preferred or versions[0])
            self._groups = groups
        return self._groups

    def resource_for_group_kind(self, group: str, kind: str) -> ApiResource | None:
        """The served resource of a group and kind at the group's preferred version; None when not served."""
        api_version = self.preferred_versions().get(group)
        served = self.resources(api_version) if api_version else None
        return served.get(kind) if served else None

    def path(self, res: ApiResource, namespace: str | None, name: str | None = None) -> str:
        base = "/api/v1" if res.api_version == "v1" else f"/apis/{res.api_version}"
        ns = f"/namespaces/{namespace}" if res.namespaced and namespace else ""
        return f"{base}{ns}/{res.plural}" + (f"/{name}" if name else "")

    # -- verbs -------------------------------------------------------------------------------------------

    def apply(
        self,
        obj: dict[str, Any],
        dry_run: bool = False,
        force_conflicts: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply (the client's field manager unless given); the object as the server stored it."""
        res = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        cls = _resource_class(res)
        stored = self._call(
            "PATCH",
            self.path(res, meta.get("namespace"), str(meta.get("name"))),
            self._lightkube.apply,
            cls.from_dict(obj),
            field_manager=field_manager or self.field_manager,
            force=force_conflicts,
            dry_run=dry_run,
        )
        return dict(stored)

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        res = self.resource(api_version, kind)
        path = self.path(res, namespace, name)
        try:
            found = self._call(
                "GET", path, self._lightkube.get, _resource_class(res), name, namespace=namespace
            )
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return dict(found)

    def iter_list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: Selector | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every object of a kind, fetched page by page (lightkube follows the continue token)."""
        res = self.resource(api_version, kind)
        path = self.path(res, namespace)
        labels = parse_selector(label_selector) if isinstance(label_selector, str) else label_selector
        items = self._lightkube.list(
            _resource_class(res),
            namespace=_list_namespace(res.namespaced, namespace),
            chunk_size=LIST_CHUNK,
            labels=dict(labels) if labels else None,
        )
        iterator = iter(items)
        while True:
            try:
                item = self._call("GET", path, next, iterator)
            except StopIteration:
                return
            found = dict(item)
            found.setdefault("kind", kind)  # list responses leave kind and apiVersion off the items
            found.setdefault("apiVersion", api_version)
            yield found

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: Selector | None = None,
    ) -> list[dict[str, Any]]:
        return list(self.iter_list(api_version, kind, namespace, label_selector))

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: Selector | None = None,
        resource_version: str | None = None,
        server_timeout_s: int | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, object) as they happen; resumes after a dropped connection, relists after 410 Gone."""
        res = self.resource(api_version, kind)
        labels = parse_selector(label_selector) if isinstance(label_selector, str) else label_selector
        events = self._lightkube.watch(
            _resource_class(res),
            namespace=_list_namespace(res.namespaced, namespace),
            labels=dict(labels) if labels else None,
            resource_version=resource_version,
            server_timeout=server_timeout_s,
        )
        iterator = iter(events)
        while True:
            try:
                event, obj = self._call("GET", self.path(res, namespace), next, iterator)
            except StopIteration:
                return
            yield str(event), dict(obj)

    def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str, dry_run: bool = False
    ) -> bool:
        """Delete one object (background propagation); False when it was already gone."""
        res = self.resource(api_version, kind)
        try:
            self._call(
                "DELETE",
                self.path(res, namespace, name),
                self._lightkube.delete,
                _resource_class(res),
                name,
                namespace=namespace if res.namespaced else None,
                cascade=CascadeType.BACKGROUND,
                dry_run=dry_run,
            )
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
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

    def can_i(self, verb: str, group: str, resource: str, namespace: str | None) -> tuple[bool, str]:
        """A SelfSubjectAccessReview: (allowed, the server's reason)."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {"verb": verb, "group": group, "resource": resource}
                | ({"namespace": namespace} if namespace else {})
            },
        }
        answer = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or status.get("evaluationError") or "")

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


Selector = str | Mapping[str, str | Sequence[str]]


def _list_namespace(namespaced: bool, namespace: str | None) -> str | None:
    """lightkube lists the kubeconfig's namespace when given None; None here means every namespace."""
    if not namespaced:
        return None
    return ALL_NS if namespace is None else namespace


def parse_selector(text: str) -> dict[str, str | list[str]]:
    """A label selector string of 'key=value' and 'key in (a,b)' terms, as lightkube takes it."""
    terms: dict[str, str | list[str]] = {}
    for term in filter(None, (t.strip() for t in re.split(r",(?![^(]*\))", text))):
        in_match = re.fullmatch(r"(\S+)\s+in\s+\(([^)]*)\)", term)
        if in_match:
            terms[in_match.group(1)] = [v.strip() for v in in_match.group(2).split(",") if v.strip()]
        elif "=" in term and "!" not in term:
            key, _, value = term.partition("=")
            terms[key.strip()] = value.lstrip("=").strip()
        else:
            raise ValueError(f"label selector term {term!r} is not 'key=value' or 'key in (…)'")
    return terms
