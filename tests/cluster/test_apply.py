"""apply / prune / delete as an ApplySet, against the HTTP double of the Kubernetes API."""

from __future__ import annotations

from typing import Any

import pytest

from kubellm.cluster.access import AccessError
from kubellm.cluster.apply import ApplySetError, apply_objects, delete_service, prepare, prune_candidates
from kubellm.cluster.applyset import (
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    PART_OF_LABEL,
    TOOLING_ANNOTATION,
    parent_for,
)
from kubellm.cluster.client import ApiError, ClusterError, KubeClient, MissingApiError
from kubellm.cluster.kubeconfig import Credentials

from .fake_apiserver import BUILTIN, FakeApiServer

NS = "llm"
LABELS = {"app.kubernetes.io/instance": "llama-8b", "app.kubernetes.io/managed-by": "kubellm"}
PARENT = parent_for("llama-8b", NS)
SECRET_KEY = ("v1", "secrets", NS, "llama-8b-applyset")


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
        obj(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "llama-8b-default-deny",
            spec={"policyTypes": ["Ingress"]},
        ),
        obj("v1", "Namespace", NS, namespace=None),
        obj("v1", "ServiceAccount", "llama-8b", automountServiceAccountToken=False),
        obj("batch/v1", "Job", "llama-8b-prefetch"),
        obj("v1", "ResourceQuota", "llama-8b-gpus", spec={"hard": {"requests.nvidia.com/gpu": "2"}}),
    ]


def applied(api: FakeApiServer) -> list[str]:
    return [r.body["kind"] for r in api.calls("PATCH")]


def listed(api: FakeApiServer) -> set[str]:
    """Plurals of the list requests made (GETs of a collection)."""
    return {c.path.rsplit("/", 1)[-1] for c in api.calls("GET") if "labelSelector" in c.query}


def test_members_and_parent_are_labelled_as_kubectl_labels_an_applyset(
    api: FakeApiServer, client: KubeClient
) -> None:
    actions = apply_objects(client, service_objects(), "llama-8b")
    assert applied(api) == [
        "Namespace", "Secret", "ResourceQuota", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Job",
        "Service", "Deployment", "ScaledObject", "NetworkPolicy", "ServiceMonitor",
    ]  # fmt: skip
    parent = api.store[SECRET_KEY]
    assert parent["metadata"]["labels"] == {ID_LABEL: PARENT.id}
    assert parent["metadata"]["annotations"][TOOLING_ANNOTATION] == "kubellm/v0.1.0"
    assert parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] == (
        "ConfigMap,Deployment.apps,Job.batch,NetworkPolicy.networking.k8s.io,PersistentVolumeClaim,ResourceQuota,"
        "ScaledObject.keda.sh,Service,ServiceAccount,ServiceMonitor.monitoring.coreos.com"
    )
    for call in api.calls("PATCH"):
        assert call.content_type == "application/apply-patch+yaml"
        labels = call.body["metadata"].get("labels") or {}
        if call.body["kind"] == "Secret":
            assert call.query == {"fieldManager": "kubellm-applyset", "force": "true"}
        elif call.body["kind"] == "Namespace":  # a namespace may hold other services: never a member
            assert PART_OF_LABEL not in labels and call.query == {"fieldManager": "kubellm"}
        else:
            assert labels[PART_OF_LABEL] == PARENT.id and labels["app.kubernetes.io/managed-by"] == "kubellm"
            assert call.query == {"fieldManager": "kubellm"}
    assert {a.verb for a in actions} == {"created"}
    deployment = api.store[("apps/v1", "deployments", NS, "llama-8b")]
    assert [m["manager"] for m in deployment["metadata"]["managedFields"]] == ["kubellm"]


def test_second_apply_reports_unchanged_and_moves_no_generation(
    api: FakeApiServer, client: KubeClient
) -> None:
    apply_objects(client, service_objects(), "llama-8b")
    before = {
        k: (o["metadata"].get("generation"), o["metadata"]["resourceVersion"]) for k, o in api.store.items()
    }
    again = apply_objects(client, service_objects(), "llama-8b")
    assert {a.verb for a in again} == {"unchanged"}
    after = {
        k: (o["metadata"].get("generation"), o["metadata"]["resourceVersion"]) for k, o in api.store.items()
    }
    assert after == before


def test_a_zero_value_the_server_drops_moves_the_generation_every_time(
    api: FakeApiServer, client: KubeClient
) -> None:
    """What render must avoid, reproduced by the double as the real server does it."""
    objects = service_objects()
    policy = next(o for o in objects if o["kind"] == "NetworkPolicy")
    policy["spec"]["ingress"] = []
    apply_objects(client, objects, "llama-8b")
    stored = api.store[("networking.k8s.io/v1", "networkpolicies", NS, "llama-8b-default-deny")]
    assert "ingress" not in stored["spec"] and stored["metadata"]["generation"] == 1
    again = apply_objects(client, objects, "llama-8b")
    assert ("configured", "NetworkPolicy/llm/llama-8b-default-deny") in {(a.verb, a.ref) for a in again}
    assert (
        api.store[("networking.k8s.io/v1", "networkpolicies", NS, "llama-8b-default-deny")]["metadata"][
            "generation"
        ]
        == 2
    )


def test_server_dry_run_stores_nothing_and_says_so(api: FakeApiServer, client: KubeClient) -> None:
    api.put(obj("v1", "Namespace", NS, namespace=None))
    actions = apply_objects(client, service_objects(), "llama-8b", dry_run=True)
    assert all(c.query.get("dryRun") == "All" for c in api.calls("PATCH"))
    assert set(api.store) == {("v1", "namespaces", "", NS)}
    assert actions and all(a.dry_run for a in actions)
    assert all("(server dry run" in a.line() for a in actions)


def test_dry_run_into_a_new_namespace_checks_every_object_in_a_stand_in(
    api: FakeApiServer, client: KubeClient
) -> None:
    api.put(obj("v1", "Namespace", "default", namespace=None))
    actions = apply_objects(client, service_objects(), "llama-8b", dry_run=True)
    namespaced = [c for c in api.calls("PATCH") if c.body["kind"] != "Namespace"]
    assert len(namespaced) == len(service_objects()) - 1  # every object reached the server
    assert all("/namespaces/default/" in c.path and c.query["dryRun"] == "All" for c in namespaced)
    assert set(api.store) == {("v1", "namespaces", "", "default")}
    by_ref = {a.ref: a for a in actions}
    assert by_ref["Namespace/llm"].verb == "created"
    assert "llm does not exist yet" in by_ref["Namespace/llm"].note
    assert by_ref["Deployment/llm/llama-8b"].note == "checked in namespace default"


def test_dry_run_with_no_namespace_to_stand_in_validates_the_schemas(
    api: FakeApiServer, client: KubeClient
) -> None:
    api.put(obj("v1", "Namespace", "default", namespace=None))
    api.forbidden.add(("get", "namespaces", "default"))  # the one stand-in there is cannot be read
    objects = [o for o in service_objects() if o["kind"] in ("Namespace", "ConfigMap", "ServiceAccount")]
    actions = apply_objects(client, objects, "llama-8b", dry_run=True)
    verbs = {a.ref: a.verb for a in actions}
    assert verbs == {"Namespace/llm": "created", "ConfigMap/llm/llama-8b-gateway": "validated",
                     "ServiceAccount/llm/llama-8b": "validated"}  # fmt: skip
    assert "schemas only" in next(a for a in actions if a.verb == "validated").note


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


def test_prune_deletes_only_stale_members_and_records_what_remains(
    api: FakeApiServer, client: KubeClient
) -> None:
    apply_objects(client, service_objects(), "llama-8b")
    member = {**LABELS, PART_OF_LABEL: PARENT.id}
    api.put(obj("v1", "ConfigMap", "llama-8b-old-config", labels=member))  # a member no longer rendered
    api.put(obj("v1", "ConfigMap", "hand-made", labels={}))  # unlabelled → never touched
    api.put(obj("v1", "ConfigMap", "other-svc", labels={**LABELS, "app.kubernetes.io/instance": "mistral"}))
    api.put(obj("v1", "ConfigMap", "forged", labels={PART_OF_LABEL: PARENT.id}))  # not labelled as ours
    api.put(obj("v1", "PersistentVolumeClaim", "llama-8b-old-cache", labels=member))  # a model cache → kept
    smaller = [o for o in service_objects() if o["kind"] not in ("ServiceMonitor", "ScaledObject")]
    api.requests.clear()
    actions = apply_objects(client, smaller, "llama-8b", prune=True)
    deleted = sorted(c.path for c in api.calls("DELETE"))
    assert deleted == [
        "/api/v1/namespaces/llm/configmaps/llama-8b-old-config",
        "/apis/keda.sh/v1alpha1/namespaces/llm/scaledobjects/llama-8b",
        "/apis/monitoring.coreos.com/v1/namespaces/llm/servicemonitors/llama-8b",
    ]
    assert ("kept", "PersistentVolumeClaim/llm/llama-8b-old-cache") in {(a.verb, a.ref) for a in actions}
    assert {name for (_, _, _, name) in api.store} >= {
        "hand-made",
        "other-svc",
        "forged",
        "llama-8b-old-cache",
    }
    lists = [c for c in api.calls("GET") if c.query.get("labelSelector")]
    assert lists and all(c.query["labelSelector"] == f"{PART_OF_LABEL}={PARENT.id}" for c in lists)
    kinds = api.store[SECRET_KEY]["metadata"]["annotations"][GROUP_KINDS_ANNOTATION]
    assert "ScaledObject.keda.sh" not in kinds and "ServiceMonitor" not in kinds and "ConfigMap" in kinds


def test_first_applyset_apply_prunes_what_older_kubellm_labelled(
    api: FakeApiServer, client: KubeClient
) -> None:
    api.put(obj("v1", "Namespace", NS, namespace=None))
    api.put(obj("v1", "ConfigMap", "llama-8b-from-0.0.9"))  # labels only, no ApplySet yet
    apply_objects(client, service_objects(), "llama-8b", prune=True)
    assert ("v1", "configmaps", NS, "llama-8b-from-0.0.9") not in api.store


def test_prune_candidates_never_include_unlabelled_objects_even_if_the_server_ignores_the_selector() -> None:
    live = [
        obj("v1", "ConfigMap", "x", labels={}),
        obj("v1", "ConfigMap", "y", labels={"app.kubernetes.io/instance": "llama-8b"}),
    ]
    assert prune_candidates(live, [], "llama-8b") == ([], [])


def test_delete_lists_only_the_kinds_the_applyset_records(api: FakeApiServer, client: KubeClient) -> None:
    objects = [o for o in service_objects() if o["kind"] in ("Namespace", "ConfigMap", "Deployment")]
    apply_objects(client, objects, "llama-8b")
    api.requests.clear()
    actions = delete_service(client, service_objects(), NS, "llama-8b")
    assert listed(api) == {"configmaps", "deployments"}  # not every kind the cluster serves
    assert {a.ref for a in actions} == {"ConfigMap/llm/llama-8b-gateway", "Deployment/llm/llama-8b"}
    assert SECRET_KEY not in api.store  # nothing left: the parent goes too


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
        ("secrets", "llama-8b-applyset"),  # still records the kept PVC, so --purge finds it
    }
    assert api.store[SECRET_KEY]["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] == "PersistentVolumeClaim"
    purged = delete_service(client, objects, NS, "llama-8b", purge=True)
    assert [(a.verb, a.ref) for a in purged] == [("deleted", "PersistentVolumeClaim/llm/llama-8b-models")]
    assert SECRET_KEY not in api.store


def test_delete_without_an_applyset_lists_the_kinds_the_spec_renders(
    api: FakeApiServer, client: KubeClient
) -> None:
    api.put(obj("v1", "ConfigMap", "llama-8b-gateway"))
    objects = [o for o in service_objects() if o["kind"] in ("Namespace", "ConfigMap", "Service")]
    actions = delete_service(client, objects, NS, "llama-8b")
    assert listed(api) == {"configmaps", "services"}
    assert [(a.verb, a.ref) for a in actions] == [("deleted", "ConfigMap/llm/llama-8b-gateway")]


def test_namespace_scoped_apply_leaves_out_the_namespace_and_the_quota(
    api: FakeApiServer, client: KubeClient
) -> None:
    api.put(obj("v1", "Namespace", NS, namespace=None))
    api.forbidden |= {("patch", "namespaces"), ("create", "namespaces"), ("patch", "resourcequotas")}
    api.forbidden |= {("create", "resourcequotas"), ("list", "nodes")}
    actions = apply_objects(client, service_objects(), "llama-8b", namespace_only=True, prune=True)
    skipped = {a.ref: a.note for a in actions if a.verb == "skipped"}
    assert set(skipped) == {"Namespace/llm", "ResourceQuota/llm/llama-8b-gpus"}
    assert "Namespace" not in applied(api) and "ResourceQuota" not in applied(api)
    assert ("v1", "deployments", NS, "llama-8b") not in api.store
    assert ("apps/v1", "deployments", NS, "llama-8b") in api.store


def test_preflight_lists_every_missing_permission_with_the_role_that_grants_them(
    api: FakeApiServer, client: KubeClient
) -> None:
    api.user = "llm-editor"
    api.forbidden |= {("patch", "namespaces"), ("create", "namespaces"), ("patch", "resourcequotas", NS)}
    api.forbidden |= {("create", "resourcequotas", NS), ("patch", "deployments", NS)}
    with pytest.raises(AccessError) as info:
        apply_objects(client, service_objects(), "llama-8b")
    assert api.calls("PATCH") == []  # nothing written
    assert {str(p) for p in info.value.missing} == {
        "create namespaces (cluster-wide)",
        "patch namespaces (cluster-wide)",
        "create resourcequotas (in namespace llm)",
        "patch resourcequotas (in namespace llm)",
        "patch deployments.apps (in namespace llm)",
    }
    fix = info.value.fix
    assert fix.startswith("apply with --no-namespace")
    assert "kind: Role\nmetadata:\n  name: kubellm-llama-8b\n  namespace: llm\n" in fix
    assert "- apiGroups:\n  - apps\n  resources:\n  - deployments\n  verbs:\n  - patch\n" in fix
    assert "kind: ClusterRole" in fix and "- namespaces\n  verbs:\n  - create\n  - patch\n" in fix
    assert (
        "kubectl create rolebinding kubellm-llama-8b --role=kubellm-llama-8b --user=llm-editor -n llm" in fix
    )


def test_a_parent_of_another_tool_is_not_taken_over(api: FakeApiServer, client: KubeClient) -> None:
    api.put(obj("v1", "Namespace", NS, namespace=None))
    secret = obj("v1", "Secret", "llama-8b-applyset", labels={ID_LABEL: PARENT.id})
    secret["metadata"]["annotations"] = {
        TOOLING_ANNOTATION: "kubectl/v1.36.2",
        GROUP_KINDS_ANNOTATION: "ConfigMap",
    }
    api.put(secret)
    with pytest.raises(ApplySetError) as info:
        apply_objects(client, service_objects(), "llama-8b")
    assert "managed by 'kubectl/v1.36.2'" in info.value.what
    assert [c.body["kind"] for c in api.calls("PATCH")] == []


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


def test_prepare_does_not_touch_the_callers_objects() -> None:
    original = obj("v1", "ConfigMap", "c", labels={})
    prepared = prepare([original], "llama-8b", PARENT)
    assert original["metadata"]["labels"] == {}
    assert prepared[0]["metadata"]["labels"] == {**LABELS, PART_OF_LABEL: PARENT.id}
    namespace = prepare([obj("v1", "Namespace", NS, namespace=None, labels={})], "llama-8b", PARENT)[0]
    assert namespace["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubellm"}


def test_missing_namespace_says_how_to_create_it(api: FakeApiServer, client: KubeClient) -> None:
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


def test_delete_purge_removes_the_claims_a_statefulset_left(api: FakeApiServer, client: KubeClient) -> None:
    objects = [o for o in service_objects() if o["kind"] in ("Namespace", "ConfigMap")]
    objects.append(obj("apps/v1", "StatefulSet", "llama-8b", spec={"replicas": 1}))
    api.served["apps/v1"].append(("StatefulSet", "statefulsets", True))
    apply_objects(client, objects, "llama-8b")
    # what the StatefulSet controller makes from volumeClaimTemplates: the template's labels, no ApplySet label
    api.put(
        obj(
            "v1",
            "PersistentVolumeClaim",
            "models-llama-8b-0",
            labels={**LABELS, "app.kubernetes.io/component": "model-cache"},
        )
    )
    api.put(
        obj(
            "v1",
            "PersistentVolumeClaim",
            "models-mistral-0",
            labels={**LABELS, "app.kubernetes.io/instance": "mistral"},
        )
    )
    actions = delete_service(client, objects, NS, "llama-8b")
    assert ("kept", "PersistentVolumeClaim/llm/models-llama-8b-0") in {(a.verb, a.ref) for a in actions}
    purged = delete_service(client, objects, NS, "llama-8b", purge=True)
    assert [(a.verb, a.ref) for a in purged] == [("deleted", "PersistentVolumeClaim/llm/models-llama-8b-0")]
    assert ("v1", "persistentvolumeclaims", NS, "models-mistral-0") in api.store
    assert SECRET_KEY not in api.store
