"""An HTTP-level test double of the Kubernetes API server, on 127.0.0.1.

It speaks the parts of the API kubellm uses, shaped like the real thing: discovery documents
(/api, /apis, /api/v1, /apis/<group>/<version>), server-side apply (PATCH with
application/apply-patch+yaml, fieldManager, force, dryRun=All; 201 on create, 200 on update, 409 on a
conflict), list with label selectors (items without kind, as the real server sends them), get,
delete, pod logs and the pod proxy, bearer-token auth (401) and RBAC denials (403) with the real
Status bodies. Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
}  # fmt: skip
KEDA = {"keda.sh/v1alpha1": [("ScaledObject", "scaledobjects", True)]}
PROMETHEUS_OPERATOR = {
    "monitoring.coreos.com/v1": [
        ("ServiceMonitor", "servicemonitors", True),
        ("PrometheusRule", "prometheusrules", True),
    ]
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }


def _matches(labels: dict[str, str], selector: str) -> bool:
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


@dataclass
class FakeApiServer:
    token: str = "test-token"
    served: dict[str, list[tuple[str, str, bool]]] = field(
        default_factory=lambda: {**BUILTIN, **KEDA, **PROMETHEUS_OPERATOR}
    )
    store: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (verb, plural)
    conflicts: set[tuple[str, str]] = field(default_factory=set)  # (plural, name) owned by another manager
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)
    proxy: dict[tuple[str, str, int, str], str] = field(default_factory=dict)
    require_namespaces: bool = False  # True: objects in a namespace that was never created get a 404
    on_get: Any = None  # called with (plural, namespace) before each list, to move state forward
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rv = 1000
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, tls: ssl.SSLContext | None = None) -> FakeApiServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                code, body = fake.handle(self)
                data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
                self.send_response(code)
                self.send_header(
                    "Content-Type", "application/json" if not isinstance(body, str) else "text/plain"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
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
        """Seed an object as if someone else had created it."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        plural = next(p for k, p, _ in self.served[api_version] if k == kind)
        meta = obj["metadata"]
        self.store[(api_version, plural, meta.get("namespace", ""), meta["name"])] = obj

    def objects(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.store.values() if o.get("kind") == kind]

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

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
            return 401, _status(401, "Unauthorized", "Unauthorized")
        return self.route(method, parsed.path, query, req.headers.get("Content-Type", ""), body)

    def route(self, method: str, path: str, query: dict[str, str], ctype: str, body: Any) -> tuple[int, Any]:
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for gv in self.served:
                if "/" in gv:
                    groups.setdefault(gv.split("/")[0], []).append(gv)
            return 200, {
                "kind": "APIGroupList",
                "groups": [
                    {"name": g, "versions": [{"groupVersion": v, "version": v.split("/")[1]} for v in vs]}
                    for g, vs in groups.items()
                ],
            }
        match = re.match(r"^/(?:api/(v1)|apis/([^/]+/[^/]+))(/.*)?$", path)
        if not match:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        api_version = match.group(1) or match.group(2)
        rest = (match.group(3) or "").strip("/").split("/") if match.group(3) else []
        if api_version not in self.served:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return 200, {
                "kind": "APIResourceList",
                "groupVersion": api_version,
                "resources": [
                    {
                        "name": p,
                        "singularName": k.lower(),
                        "namespaced": n,
                        "kind": k,
                        "verbs": ["get", "list", "patch", "delete"],
                    }
                    for k, p, n in self.served[api_version]
                ]
                + [
                    {"name": f"{p}/status", "namespaced": n, "kind": k, "verbs": ["get"]}
                    for k, p, n in self.served[api_version]
                ],
            }
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2:] if len(rest) > 2 else []
        resource = self._resource(api_version, plural)
        if resource is None:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        kind, _ = resource
        verb = {"GET": "get" if name else "list", "PATCH": "patch", "DELETE": "delete"}.get(
            method, method.lower()
        )
        if (verb, plural) in self.forbidden:
            group = api_version.split("/")[0] if "/" in api_version else ""
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            target = (
                f'{plural}.{group} "{name}"' if name and group else (f'{plural} "{name}"' if name else plural)
            )
            return 403, _status(
                403,
                "Forbidden",
                f'{target} is forbidden: User "system:serviceaccount:ci:deployer" cannot {verb} resource "{plural}" '
                f'in API group "{group}"{where}',
                {"name": name or "", "group": group, "kind": plural},
            )
        if sub:
            return self.subresource(namespace, plural, name or "", sub, query)
        key = (api_version, plural, namespace, name or "")
        if method == "GET" and name:
            obj = self.store.get(key)
            if obj is None:
                return 404, _status(404, "NotFound", f'{plural} "{name}" not found')
            return 200, obj
        if method == "GET":
            if self.on_get:
                self.on_get(plural, namespace)
            selector = query.get("labelSelector", "")
            items = [
                {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                for (av, pl, ns, _), o in sorted(self.store.items())
                if av == api_version and pl == plural and (not namespace or ns == namespace)
                and _matches(o.get("metadata", {}).get("labels") or {}, selector)
            ]  # fmt: skip
            return 200, {
                "kind": f"{kind}List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }
        if method == "PATCH":
            return self.apply(key, kind, api_version, query, ctype, body)
        if method == "DELETE":
            if key not in self.store:
                return 404, _status(404, "NotFound", f'{plural} "{name}" not found')
            if query.get("dryRun") != "All":
                del self.store[key]
            return 200, _status(200, "", "", {"name": name, "kind": plural})
        return 405, _status(405, "MethodNotAllowed", "method not allowed")

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
            return 415, _status(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml; got {ctype}",
            )
        if not query.get("fieldManager"):
            return 400, _status(
                400,
                "BadRequest",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
            )
        if not isinstance(body, dict) or body.get("kind") != kind or body.get("apiVersion") != api_version:
            return 400, _status(
                400,
                "BadRequest",
                f"the object kind/apiVersion does not match the path ({kind}, {api_version})",
            )
        plural, name = key[1], key[3]
        if (plural, name) in self.conflicts and query.get("force") != "true":
            return 409, _status(
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
        namespaces = {k[3] for k in self.store if k[1] == "namespaces"}
        if key[2] and self.require_namespaces and key[2] not in namespaces:
            return 404, _status(
                404, "NotFound", f'namespaces "{key[2]}" not found', {"name": key[2], "kind": "namespaces"}
            )
        existed = key in self.store
        if existed and plural == "jobs" and body.get("spec") != self.store[key].get("spec"):
            return 422, _status(
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
        stored = json.loads(json.dumps(body))
        self._rv += 1
        meta = stored.setdefault("metadata", {})
        meta.update(
            {
                "uid": f"uid-{plural}-{name}",
                "resourceVersion": str(self._rv),
                "managedFields": [
                    {"manager": query["fieldManager"], "operation": "Apply", "apiVersion": api_version}
                ],
            }
        )
        if key[2]:
            meta["namespace"] = key[2]
        if query.get("dryRun") != "All":
            if existed and "status" in self.store[key]:
                stored["status"] = self.store[key]["status"]
            self.store[key] = stored
        return (200 if existed else 201), stored

    def subresource(
        self, namespace: str, plural: str, name: str, sub: list[str], query: dict[str, str]
    ) -> tuple[int, Any]:
        if plural == "pods" and sub == ["log"]:
            text = self.logs.get(
                (namespace, name, query.get("container", ""), query.get("previous") == "true")
            )
            if text is None:
                return 400, _status(
                    400,
                    "BadRequest",
                    f'previous terminated container "{query.get("container")}" in pod "{name}" not found',
                )
            return 200, text
        if plural.startswith("pods") and sub and sub[0] == "proxy":
            pod, _, port = name.partition(":")
            text = self.proxy.get((namespace, pod, int(port or 0), "/" + "/".join(sub[1:])))
            if text is None:
                return 503, _status(
                    503,
                    "ServiceUnavailable",
                    "error trying to reach service: dial tcp: connect: connection refused",
                )
            return 200, text
        return 404, _status(404, "NotFound", "the server could not find the requested resource")
