"""An HTTP-level test double of the Kubernetes API server, on 127.0.0.1, answering as a real one does.

It speaks the parts of the API kubellm uses, shaped by what kube-apiserver 1.36 answered (the captured
answers in ``data/apiserver/``, held to by ``test_fake_fidelity.py``): discovery (/api, /apis with
preferred versions, /api/v1, /apis/<group>/<version>), server-side apply (PATCH with
application/apply-patch+yaml, fieldManager, force, dryRun=All; 201 on create, 200 on update, 409 on
a conflict; managedFields; the zero values the real server drops; generation bumped when the spec
sent differs from the one stored, resourceVersion unchanged by a no-op), list with label selectors
and ``limit``/``continue`` pages (items without kind), watch, get, delete, pod logs and the pod proxy,
SelfSubjectAccessReview and SelfSubjectReview, bearer-token auth (401) and RBAC denials (403) with
the real Status bodies, and 404 for objects in a namespace that does not exist. Object lifecycle
(``fake_lifecycle``): create/update with conflicts, merge and JSON patches, the status subresource,
finalizers, owner-reference garbage collection; watches from a resourceVersion replay what changed
since. Every request is recorded for assertions.
"""

from __future__ import annotations

import copy
import json
import queue
import re
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import fake_lifecycle as lifecycle
from .fake_semantics import drop_zero_values, forbidden_status, matches, status_body

# api_version → [(kind, plural, namespaced)]
BUILTIN: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("Namespace", "namespaces", False), ("Node", "nodes", False), ("Pod", "pods", True),
        ("Service", "services", True), ("ConfigMap", "configmaps", True), ("Secret", "secrets", True),
        ("ServiceAccount", "serviceaccounts", True), ("PersistentVolumeClaim", "persistentvolumeclaims", True),
        ("ResourceQuota", "resourcequotas", True), ("Event", "events", True),
    ],
    "apps/v1": [("Deployment", "deployments", True), ("StatefulSet", "statefulsets", True), ("DaemonSet", "daemonsets", True), ("ReplicaSet", "replicasets", True)],
    "batch/v1": [("Job", "jobs", True)],
    "policy/v1": [("PodDisruptionBudget", "poddisruptionbudgets", True)],
    "autoscaling/v2": [("HorizontalPodAutoscaler", "horizontalpodautoscalers", True)],
    "networking.k8s.io/v1": [("NetworkPolicy", "networkpolicies", True), ("Ingress", "ingresses", True)],
    "node.k8s.io/v1": [("RuntimeClass", "runtimeclasses", False)],
    "scheduling.k8s.io/v1": [("PriorityClass", "priorityclasses", False)],
}  # fmt: skip
KEDA = {"keda.sh/v1alpha1": [("ScaledObject", "scaledobjects", True)]}
PROMETHEUS_OPERATOR = {
    "monitoring.coreos.com/v1": [
        ("ServiceMonitor", "servicemonitors", True),
        ("PrometheusRule", "prometheusrules", True),
    ]
}
_status = status_body  # the name older tests import
_matches = matches


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


@dataclass
class FakeApiServer:
    token: str = "test-token"
    user: str = "system:serviceaccount:ci:deployer"
    served: dict[str, list[tuple[str, str, bool]]] = field(
        default_factory=lambda: {**BUILTIN, **KEDA, **PROMETHEUS_OPERATOR}
    )
    store: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # (verb, plural) denied everywhere, or (verb, plural, namespace) denied in one namespace ("" = cluster scope)
    forbidden: set[tuple[str, ...]] = field(default_factory=set)
    conflicts: set[tuple[str, str]] = field(default_factory=set)  # (plural, name) owned by another manager
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)
    proxy: dict[tuple[str, str, int, str], str] = field(default_factory=dict)
    require_namespaces: bool = (
        True  # as the real server: objects in a namespace that was never created get a 404
    )
    on_get: Any = None  # called with (plural, namespace) before each list, to move state forward
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rv = 1000
        self._server: ThreadingHTTPServer | None = None
        self._watchers: list[tuple[str, str, str, queue.Queue[dict[str, Any]]]] = []
        # every change, so a watch from a resourceVersion replays what happened after it (kopf lists, then watches)
        self._history: list[tuple[int, tuple[str, str, str], dict[str, Any]]] = []

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, tls: ssl.SSLContext | None = None) -> FakeApiServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                code, body = fake.handle(self)
                if isinstance(body, Watch):
                    fake.stream(self, body)
                    return
                data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
                self.send_response(code)
                self.send_header(
                    "Content-Type", "application/json" if not isinstance(body, str) else "text/plain"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        for *_, events in self._watchers:
            events.put({})
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def kubeconfig(self, namespace: str = "default") -> str:
        return (
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {self.url}\n"
            f"contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: {namespace}\n"
            f"users:\n- name: tester\n  user:\n    token: {self.token}\n"
        )

    # -- state helpers ---------------------------------------------------------------------------------

    def _resource(self, api_version: str, plural: str) -> tuple[str, bool] | None:
        for kind, name, namespaced in self.served.get(api_version, []):
            if name == plural:
                return kind, namespaced
        return None

    def put(self, obj: dict[str, Any]) -> None:
        """Seed an object as if someone else had created it (its namespace is taken to exist)."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        plural = next(p for k, p, _ in self.served[api_version] if k == kind)
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        if namespace and ("v1", "namespaces", "", namespace) not in self.store:
            self.store[("v1", "namespaces", "", namespace)] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "resourceVersion": "1"},
            }
        meta.setdefault("resourceVersion", str(self._next_rv()))
        self.store[(api_version, plural, namespace, meta["name"])] = obj
        self._notify("ADDED", (api_version, plural, namespace), obj)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.store.values() if o.get("kind") == kind]

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _denied(self, verb: str, plural: str, namespace: str) -> bool:
        return (verb, plural) in self.forbidden or (verb, plural, namespace) in self.forbidden

    # -- request handling ------------------------------------------------------------------------------

    def handle(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
        parsed = urllib.parse.urlsplit(req.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        method = req.command
        with self._lock:
            self.requests.append(
                Recorded(method, parsed.path, query, req.headers.get("Content-Type", ""), body)
            )
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, status_body(401, "Unauthorized", "Unauthorized", None)
        with self._lock:
            return self.route(method, parsed.path, query, req.headers.get("Content-Type", ""), body)

    def route(self, method: str, path: str, query: dict[str, str], ctype: str, body: Any) -> tuple[int, Any]:
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            return 200, self._group_list()
        if method == "POST" and path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            return 201, self._access_review(body)
        if method == "POST" and path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
            return 201, {
                "kind": "SelfSubjectReview",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {},
                "status": {"userInfo": {"username": self.user, "groups": ["system:authenticated"]}},
            }
        match = re.match(r"^/(?:api/(v1)|apis/([^/]+/[^/]+))(/.*)?$", path)
        not_found = status_body(404, "NotFound", "the server could not find the requested resource", None)
        if not match:
            return 404, not_found
        api_version = match.group(1) or match.group(2)
        rest = (match.group(3) or "").strip("/").split("/") if match.group(3) else []
        if api_version not in self.served:
            return 404, not_found
        if not rest:
            return 200, self._resource_list(api_version)
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2:] if len(rest) > 2 else []
        resource = self._resource(api_version, plural)
        if resource is None:
            return 404, not_found
        kind, _ = resource
        verb = {"GET": "get" if name else "list", "PATCH": "patch", "DELETE": "delete"}.get(
            method, method.lower()
        )
        if verb == "list" and query.get("watch") == "true":
            verb = "watch"
        # the real server names a namespace's own name as its namespace in RBAC messages
        where = namespace or (name if plural == "namespaces" and name else "")
        if self._denied(verb, plural, where):
            return 403, forbidden_status(self.user, verb, plural, api_version, name, where)
        key = (api_version, plural, namespace, name or "")
        dry_run = query.get("dryRun") == "All"
        if sub == ["status"] and method == "PATCH":
            return lifecycle.patch(self, key, api_version, ctype, body, "status")
        if sub == ["status"] and method == "PUT":
            return lifecycle.update(self, key, api_version, body, "status")
        if sub == ["status"] and method == "GET":
            found = self.store.get(key)
            return (200, found) if found is not None else lifecycle.not_found(api_version, plural, name or "")
        if sub:
            return self.subresource(namespace, plural, name or "", sub, query)
        if method == "POST" and not name:
            return lifecycle.create(self, key, kind, api_version, body, dry_run)
        if method == "PUT" and name:
            return lifecycle.update(self, key, api_version, body, None)
        if method == "PATCH" and not ctype.startswith("application/apply-patch"):
            return lifecycle.patch(self, key, api_version, ctype, body, None)
        if method == "GET" and name:
            obj = self.store.get(key)
            if obj is None:
                return 404, status_body(
                    404, "NotFound", f'{plural} "{name}" not found', {"name": name, "kind": plural}
                )
            return 200, obj
        if method == "GET" and verb == "watch":
            return 200, Watch(api_version, plural, namespace, query.get("labelSelector", ""), query)
        if method == "GET":
            return self._list(api_version, plural, kind, namespace, query)
        if method == "PATCH":
            return self.apply(key, kind, api_version, query, ctype, body)
        if method == "DELETE":
            if key not in self.store:
                return 404, status_body(
                    404, "NotFound", f'{plural} "{name}" not found', {"name": name, "kind": plural}
                )
            return lifecycle.delete(self, key, api_version, dry_run)
        return 405, status_body(405, "MethodNotAllowed", "method not allowed", None)

    def _group_list(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for gv in self.served:
            if "/" in gv:
                groups.setdefault(gv.split("/")[0], []).append(gv)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": v, "version": v.split("/")[1]} for v in vs],
                    "preferredVersion": {"groupVersion": vs[0], "version": vs[0].split("/")[1]},
                }
                for g, vs in groups.items()
            ],
        }

    def _resource_list(self, api_version: str) -> dict[str, Any]:
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        return {
            "kind": "APIResourceList",
            "groupVersion": api_version,
            "resources": [
                {"name": p, "singularName": k.lower(), "namespaced": n, "kind": k, "verbs": verbs}
                for k, p, n in self.served[api_version]
            ]
            + [
                {"name": f"{p}/status", "namespaced": n, "kind": k, "verbs": ["get", "patch"]}
                for k, p, n in self.served[api_version]
            ],
        }

    def _access_review(self, body: Any) -> dict[str, Any]:
        attributes = ((body or {}).get("spec") or {}).get("resourceAttributes") or {}
        allowed = not self._denied(
            str(attributes.get("verb")),
            str(attributes.get("resource")),
            str(attributes.get("namespace") or ""),
        )
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {"resourceAttributes": attributes},
            "status": {"allowed": allowed} | ({"reason": "RBAC: allowed"} if allowed else {}),
        }

    def _list(
        self, api_version: str, plural: str, kind: str, namespace: str, query: dict[str, str]
    ) -> tuple[int, Any]:
        if self.on_get:
            self.on_get(plural, namespace)
        selector = query.get("labelSelector", "")
        items = [
            {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
            for (av, pl, ns, _), o in sorted(self.store.items())
            if av == api_version and pl == plural and (not namespace or ns == namespace)
            and matches(o.get("metadata", {}).get("labels") or {}, selector)
        ]  # fmt: skip
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[start : start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
            meta["remainingItemCount"] = len(items) - start - limit
        return 200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": page}

    def apply(
        self,
        key: tuple[str, str, str, str],
        kind: str,
        api_version: str,
        query: dict[str, str],
        ctype: str,
        body: Any,
    ) -> tuple[int, Any]:
        if ctype != "application/apply-patch+yaml":
            return 415, status_body(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                f"application/apply-patch+yaml; got {ctype}",
                None,
            )
        if not query.get("fieldManager"):
            return 400, status_body(
                400,
                "BadRequest",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                None,
            )
        if not isinstance(body, dict) or body.get("kind") != kind or body.get("apiVersion") != api_version:
            return 400, status_body(
                400,
                "BadRequest",
                f"the object kind/apiVersion does not match the path ({kind}, {api_version})",
                None,
            )
        plural, name = key[1], key[3]
        if (plural, name) in self.conflicts and query.get("force") != "true":
            return 409, status_body(
                409,
                "Conflict",
                f'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using {api_version}: .spec.replicas',
                {
                    "causes": [
                        {
                            "reason": "FieldManagerConflict",
                            "message": 'conflict with "kubectl-client-side-apply"',
                            "field": ".spec.replicas",
                        }
                    ]
                },
            )
        if key[2] and self.require_namespaces and ("v1", "namespaces", "", key[2]) not in self.store:
            return 404, status_body(
                404, "NotFound", f'namespaces "{key[2]}" not found', {"name": key[2], "kind": "namespaces"}
            )
        old = self.store.get(key)
        if old is not None and plural == "jobs" and body.get("spec") != old.get("spec"):
            return 422, status_body(
                422,
                "Invalid",
                f'Job.batch "{name}" is invalid: spec.template: Invalid value: core.PodTemplateSpec{{...}}: field is immutable',
                {
                    "name": name,
                    "group": "batch",
                    "kind": "Job",
                    "causes": [{"reason": "FieldValueInvalid", "field": "spec.template"}],
                },
            )
        return self._store_applied(key, kind, api_version, query, body, old)

    def _store_applied(
        self,
        key: tuple[str, str, str, str],
        kind: str,
        api_version: str,
        query: dict[str, str],
        body: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> tuple[int, Any]:
        sent = copy.deepcopy(body)
        stored = drop_zero_values(kind, copy.deepcopy(body))
        meta = stored.setdefault("metadata", {})
        if key[2]:
            meta["namespace"] = key[2]
        manager = {
            "manager": query["fieldManager"],
            "operation": "Apply",
            "apiVersion": api_version,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "fieldsType": "FieldsV1",
            "fieldsV1": {},
        }
        old_meta = (old or {}).get("metadata") or {}
        managers = [m for m in old_meta.get("managedFields") or [] if m.get("manager") != manager["manager"]]
        meta["managedFields"] = [*managers, manager]
        meta["uid"] = old_meta.get("uid") or f"uid-{key[1]}-{key[3]}"
        has_spec = "spec" in sent
        generation = int(old_meta.get("generation") or 0)
        if old is None:
            generation = 1
        elif sent.get("spec") != old.get("spec"):  # the spec as sent, before the server drops zero values
            generation += 1
        if has_spec:
            meta["generation"] = generation
        unchanged = (
            old is not None and generation == int(old_meta.get("generation") or 0) and _same(old, stored)
        )
        meta["resourceVersion"] = old_meta["resourceVersion"] if unchanged else str(self._next_rv())
        if old is not None and "status" in old:
            stored["status"] = old["status"]
        if query.get("dryRun") != "All" and not unchanged:
            self.store[key] = stored
            self._notify("ADDED" if old is None else "MODIFIED", key[:3], stored)
        return (200 if old is not None else 201), stored

    # -- watch -----------------------------------------------------------------------------------------

    def _notify(self, event: str, where: tuple[str, str, str], obj: dict[str, Any]) -> None:
        version = int(str((obj.get("metadata") or {}).get("resourceVersion") or self._rv))
        self._history.append((version, where, {"type": event, "object": copy.deepcopy(obj)}))
        for api_version, plural, namespace, events in list(self._watchers):
            if (api_version, plural) == where[:2] and (not namespace or namespace == where[2]):
                events.put({"type": event, "object": obj})

    def stream(self, handler: BaseHTTPRequestHandler, watch: Watch) -> None:
        """Chunked watch events: ADDED for what exists, then changes, until timeoutSeconds."""
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        replay = not watch.query.get("resourceVersion")  # from a version on: only what changes after it
        since = int(watch.query.get("resourceVersion") or 0)
        with self._lock:
            for version, (av, pl, ns), change in self._history:
                same_kind = (av, pl) == (watch.api_version, watch.plural)
                if (
                    not replay
                    and version > since
                    and same_kind
                    and (not watch.namespace or ns == watch.namespace)
                ):
                    events.put(change)
            for (av, pl, ns, _), obj in sorted(self.store.items()):
                same_kind = (av, pl) == (watch.api_version, watch.plural)
                if replay and same_kind and (not watch.namespace or ns == watch.namespace):
                    events.put({"type": "ADDED", "object": obj})
            self._watchers.append((watch.api_version, watch.plural, watch.namespace, events))
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        deadline = time.monotonic() + float(watch.query.get("timeoutSeconds") or 5)
        try:
            while time.monotonic() < deadline:
                try:
                    event = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if not event:
                    break
                labels = event["object"].get("metadata", {}).get("labels") or {}
                if not matches(labels, watch.selector):
                    continue
                line = json.dumps(event).encode() + b"\n"
                handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        finally:
            with self._lock:
                self._watchers = [w for w in self._watchers if w[3] is not events]

    def subresource(
        self, namespace: str, plural: str, name: str, sub: list[str], query: dict[str, str]
    ) -> tuple[int, Any]:
        if plural == "pods" and sub == ["log"]:
            text = self.logs.get(
                (namespace, name, query.get("container", ""), query.get("previous") == "true")
            )
            if text is None:
                return 400, status_body(
                    400,
                    "BadRequest",
                    f'previous terminated container "{query.get("container")}" in pod "{name}" not found',
                    None,
                )
            return 200, text
        if plural.startswith("pods") and sub and sub[0] == "proxy":
            pod, _, port = name.partition(":")
            text = self.proxy.get((namespace, pod, int(port or 0), "/" + "/".join(sub[1:])))
            if text is None:
                return 503, status_body(
                    503,
                    "ServiceUnavailable",
                    "error trying to reach service: dial tcp: connect: connection refused",
                    None,
                )
            return 200, text
        return 404, status_body(404, "NotFound", "the server could not find the requested resource", None)


@dataclass(frozen=True)
class Watch:
    api_version: str
    plural: str
    namespace: str
    selector: str
    query: dict[str, str]


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether an apply changed nothing the server stores (managedFields and versions aside)."""

    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        copied = copy.deepcopy(obj)
        copied.pop("status", None)
        for key in ("managedFields", "resourceVersion", "generation", "uid"):
            copied.get("metadata", {}).pop(key, None)
        return copied

    return strip(old) == strip(new)
