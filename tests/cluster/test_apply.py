"""apply / prune / delete against the HTTP test double of the Kubernetes API."""

from __future__ import annotations

from typing import Any

import pytest

from kubellm.cluster.apply import apply_objects, delete_service, prepare, prune_candidates
from kubellm.cluster.client import ApiError, ClusterError, KubeClient, MissingApiError
from kubellm.cluster.kubeconfig import Credentials

from .fake_apiserver import BUILTIN, FakeApiServer

NS = "llm"
LABELS = {"app.kubernetes.io/instance": "llama-8b", "app.kubernetes.io/managed-by": "kubellm"}


def obj(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = NS,
    labels: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS if labels is None else labels)}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def service_objects() -> list[dict[str, Any]]:
    """A service's objects in a deliberately scrambled order."""
    return [
        obj("keda.sh/v1alpha1", "ScaledObject", "llama-8b", spec={"scaleTargetRef": {"name": "llama-8b"}}),
        obj("apps/v1", "Deployment", "llama-8b", spec={"replicas": 1}),
        obj("v1", "Service", "llama-8b-engine", spec={"ports": [{"port": 8000}]}),
        obj("monitoring.coreos.com/v1", "ServiceMonitor", "llama-8b"),
        obj(
            "v1",
            "PersistentVolumeClaim",
            "llama-8b-models",
            spec={"resources": {"requests": {"storage": "30Gi"}}},
        ),
        obj("v1", "ConfigMap", "llama-8b-gateway", data={"config.yaml": "pools: []"}),
        obj("networking.k8s.io/v1", "NetworkPolicy", "llama-8b-default-deny"),
        obj("v1", "Namespace", NS, namespace=None),
        obj("v1", "ServiceAccount", "llama-8b", automountServiceAccountToken=False),
        obj("batch/v1", "Job", "llama-8b-prefetch"),
    ]


def applied_kinds(api: FakeApiServer) -> list[str]:
    return [r.body["kind"] for r in api.calls("PATCH")]


def test_server_side_apply_payloads_and_order(api: FakeApiServer, client: KubeClient) -> None:
    actions = apply_objects(client, service_objects(), "llama-8b")
    assert applied_kinds(api) == [
        "Namespace", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Job", "Service", "Deployment",
        "ScaledObject", "NetworkPolicy", "ServiceMonitor",
    ]  # fmt: skip
    for call in api.calls("PATCH"):
        assert call.content_type == "application/apply-patch+yaml"
        assert call.query == {"fieldManager": "kubellm"}
        assert call.body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubellm"
    deployment = next(c for c in api.calls("PATCH") if c.body["kind"] == "Deployment")
    assert deployment.path == "/apis/apps/v1/namespaces/llm/deployments/llama-8b"
    assert (
        next(c for c in api.calls("PATCH") if c.body["kind"] == "Namespace").path == "/api/v1/namespaces/llm"
    )
    assert {a.verb for a in actions} == {"created"}
    assert (
        api.store[("apps/v1", "deployments", NS, "llama-8b")]["metadata"]["managedFields"][0]["manager"]
        == "kubellm"
    )


def test_second_apply_reports_configured(api: FakeApiServer, client: KubeClient) -> None:
    apply_objects(client, service_objects(), "llama-8b")
    again = apply_objects(client, service_objects(), "llama-8b")
    assert {a.verb for a in again} == {"configured"}


def test_server_dry_run_stores_nothing(api: FakeApiServer, client: KubeClient) -> None:
    apply_objects(client, service_objects(), "llama-8b", dry_run=True)
    assert all(c.query.get("dryRun") == "All" for c in api.calls("PATCH"))
    assert api.store == {}


def test_missing_keda_crd_stops_before_anything_is_applied() -> None:
    server = FakeApiServer(served=dict(BUILTIN)).start()
    try:
        creds = Credentials(server=server.url, token=server.token)
        with KubeClient(creds, timeout_s=5) as kube, pytest.raises(MissingApiError) as info:
            apply_objects(kube, service_objects(), "llama-8b")
        assert "KEDA is not installed" in info.value.what and "ScaledObject" in info.value.what
        assert "Prometheus Operator" in info.value.what
        assert (
            "scaling.autoscaler: hpa" in info.value.fix
            and "observability.service_monitor: false" in info.value.fix
        )
        assert server.calls("PATCH") == []
    finally:
        server.stop()


def test_prune_deletes_only_this_services_labelled_leftovers(api: FakeApiServer, client: KubeClient) -> None:
    api.put(obj("v1", "ConfigMap", "llama-8b-old-config"))  # ours, no longer rendered → pruned
    api.put(obj("v1", "ConfigMap", "hand-made", labels={}))  # unlabelled → never touched
    api.put(obj("v1", "ConfigMap", "other-svc", labels={**LABELS, "app.kubernetes.io/instance": "mistral"}))
    api.put(obj("v1", "ConfigMap", "helm-thing", labels={**LABELS, "app.kubernetes.io/managed-by": "Helm"}))
    api.put(obj("v1", "PersistentVolumeClaim", "llama-8b-old-cache"))  # ours, but a model cache → kept
    api.put(obj("apps/v1", "Deployment", "llama-8b-old-gateway"))
    actions = apply_objects(client, service_objects(), "llama-8b", prune=True)
    deleted = sorted(c.path for c in api.calls("DELETE"))
    assert deleted == [
        "/api/v1/namespaces/llm/configmaps/llama-8b-old-config",
        "/apis/apps/v1/namespaces/llm/deployments/llama-8b-old-gateway",
    ]
    assert ("kept", "PersistentVolumeClaim/llm/llama-8b-old-cache") in {(a.verb, a.ref) for a in actions}
    assert {name for (_, _, _, name) in api.store} >= {
        "hand-made",
        "other-svc",
        "helm-thing",
        "llama-8b-old-cache",
    }
    lists = [c for c in api.calls("GET") if c.query.get("labelSelector")]
    assert lists and all(
        c.query["labelSelector"] == "app.kubernetes.io/managed-by=kubellm,app.kubernetes.io/instance=llama-8b"
        for c in lists
    )


def test_prune_candidates_never_include_unlabelled_objects_even_if_the_server_ignores_the_selector() -> None:
    live = [
        obj("v1", "ConfigMap", "x", labels={}),
        obj("v1", "ConfigMap", "y", labels={"app.kubernetes.io/instance": "llama-8b"}),
    ]
    assert prune_candidates(live, [], "llama-8b") == ([], [])


def test_forbidden_patch_says_which_permission_is_missing(api: FakeApiServer, client: KubeClient) -> None:
    api.forbidden.add(("patch", "deployments"))
    with pytest.raises(ApiError) as info:
        apply_objects(client, service_objects(), "llama-8b")
    assert info.value.status == 403
    assert 'cannot patch resource "deployments" in API group "apps" in the namespace "llm"' in info.value.what
    assert "rolebinding" in info.value.fix and "kubectl auth can-i" in info.value.fix


def test_conflict_needs_force_conflicts(api: FakeApiServer, client: KubeClient) -> None:
    api.conflicts.add(("deployments", "llama-8b"))
    with pytest.raises(ApiError) as info:
        apply_objects(client, service_objects(), "llama-8b")
    assert info.value.status == 409 and "--force-conflicts" in info.value.fix
    apply_objects(client, service_objects(), "llama-8b", force_conflicts=True)
    assert (
        next(c for c in reversed(api.calls("PATCH")) if c.body["kind"] == "Deployment").query["force"]
        == "true"
    )


def test_wrong_token_is_a_401_with_the_fix(api: FakeApiServer) -> None:
    with (
        KubeClient(Credentials(server=api.url, token="expired"), timeout_s=5) as kube,
        pytest.raises(ApiError) as info,
    ):
        apply_objects(kube, service_objects(), "llama-8b")
    assert info.value.status == 401 and "log in again" in info.value.fix


def test_unreachable_cluster_is_one_line_with_the_fix() -> None:
    creds = Credentials(server="http://127.0.0.1:9", token="t", context="prod")
    with KubeClient(creds, timeout_s=2) as kube, pytest.raises(ClusterError) as info:
        apply_objects(kube, service_objects(), "llama-8b")
    message = str(info.value)
    assert "\n" not in message
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9 (context prod)" in message
    assert "kubectl cluster-info" in message


def test_delete_keeps_the_model_cache_and_namespace_unless_purged(
    api: FakeApiServer, client: KubeClient
) -> None:
    objects = service_objects()
    apply_objects(client, objects, "llama-8b")
    api.put(obj("v1", "ConfigMap", "unrelated", labels={}))
    actions = delete_service(client, objects, NS, "llama-8b")
    verbs = {a.ref: a.verb for a in actions}
    assert verbs["PersistentVolumeClaim/llm/llama-8b-models"] == "kept"
    assert verbs["Deployment/llm/llama-8b"] == "deleted"
    assert "Namespace/llm" not in verbs
    order = [c.path.rsplit("/", 2)[-2] for c in api.calls("DELETE")]
    assert order.index("deployments") < order.index("configmaps")  # reverse apply order
    assert order.index("servicemonitors") < order.index("deployments")
    remaining = {(key[1], key[3]) for key in api.store}
    assert remaining == {
        ("namespaces", "llm"),
        ("persistentvolumeclaims", "llama-8b-models"),
        ("configmaps", "unrelated"),
    }
    purged = delete_service(client, objects, NS, "llama-8b", purge=True)
    assert [(a.verb, a.ref) for a in purged] == [("deleted", "PersistentVolumeClaim/llm/llama-8b-models")]


def test_prepare_does_not_touch_the_callers_objects() -> None:
    original = obj("v1", "ConfigMap", "c", labels={})
    prepared = prepare([original], "llama-8b")
    assert original["metadata"]["labels"] == {}
    assert prepared[0]["metadata"]["labels"] == LABELS
    namespace = prepare([obj("v1", "Namespace", NS, namespace=None, labels={})], "llama-8b")[0]
    assert namespace["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubellm"}


def test_missing_namespace_says_how_to_create_it(api: FakeApiServer, client: KubeClient) -> None:
    api.require_namespaces = True
    without_namespace = [o for o in service_objects() if o["kind"] != "Namespace"]
    with pytest.raises(ApiError) as info:
        apply_objects(client, without_namespace, "llama-8b")
    assert (
        info.value.what == "namespace 'llm' does not exist"
        and "kubectl create namespace llm" in info.value.fix
    )
    apply_objects(client, service_objects(), "llama-8b")  # with the Namespace first, it works


def test_changed_prefetch_job_is_replaced(api: FakeApiServer, client: KubeClient) -> None:
    apply_objects(client, service_objects(), "llama-8b")
    changed = service_objects()
    job = next(o for o in changed if o["kind"] == "Job")
    job["spec"] = {
        "template": {"spec": {"containers": [{"name": "prefetch", "args": ["--revision", "0e9e39f"]}]}}
    }
    actions = apply_objects(client, changed, "llama-8b")
    assert ("replaced", "Job/llm/llama-8b-prefetch") in {(a.verb, a.ref) for a in actions}
    assert [c.path for c in api.calls("DELETE")] == ["/apis/batch/v1/namespaces/llm/jobs/llama-8b-prefetch"]
    assert api.store[("batch/v1", "jobs", NS, "llama-8b-prefetch")]["spec"] == job["spec"]
