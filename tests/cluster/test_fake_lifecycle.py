"""The API double's object lifecycle answers as the captured kube-apiserver 1.36 did (data/apiserver/lifecycle-*)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubellm.cluster.client import KubeClient

from .fake_apiserver import BUILTIN, FakeApiServer
from .fake_lifecycle import LIFECYCLE_KINDS, captured

CRS = "/apis/kubellm.dev/v1alpha1/namespaces/llm/llmservices"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/llm/leases"
MERGE = "application/merge-patch+json"


@pytest.fixture
def api() -> Any:
    server = FakeApiServer(served={**BUILTIN, **LIFECYCLE_KINDS}).start()
    server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}})
    yield server
    server.stop()


def call(
    client: KubeClient, method: str, path: str, body: Any = None, ctype: str = "application/json"
) -> tuple[int, Any]:
    response = client._http.request(
        method,
        path,
        content=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": ctype},
    )
    return response.status_code, response.json()


def lease(holder: str, version: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "kubellm-operator", "namespace": "llm"}
    if version:
        meta["resourceVersion"] = version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {"holderIdentity": holder},
    }


def test_create_twice_and_a_stale_update_are_conflicts_worded_as_the_server_words_them(
    client: KubeClient,
) -> None:
    code, created = call(client, "POST", LEASES, lease("a"))
    assert code == 201 and created["metadata"]["resourceVersion"]
    real = captured("create-exists")
    assert call(client, "POST", LEASES, lease("a")) == (real["code"], real["body"])
    stale = captured("update-stale")
    assert call(client, "PUT", f"{LEASES}/kubellm-operator", lease("b", "1")) == (
        stale["code"],
        stale["body"],
    )
    code, updated = call(
        client, "PUT", f"{LEASES}/kubellm-operator", lease("b", created["metadata"]["resourceVersion"])
    )
    assert code == 200 and updated["spec"]["holderIdentity"] == "b"


def cr(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubellm.dev/v1alpha1", "kind": "LLMService", "metadata": {"name": "cap", "namespace": "llm"},
            "spec": {"model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"}, **spec}}  # fmt: skip


def test_the_status_subresource_and_generation_move_as_on_the_real_server(client: KubeClient) -> None:
    call(client, "POST", CRS, cr())
    code, body = call(
        client,
        "PATCH",
        f"{CRS}/cap",
        {"status": {"phase": "Ready"}, "metadata": {"annotations": {"a": "b"}}},
        MERGE,
    )
    real = captured("patch-main-with-status")["body"]
    assert (
        code == 200
        and "status" not in body
        and body["metadata"]["generation"] == real["metadata"]["generation"] == 1
    )
    code, body = call(
        client,
        "PATCH",
        f"{CRS}/cap/status",
        {"status": {"phase": "Ready"}, "spec": {"gpu": {"count": 2}}},
        MERGE,
    )
    assert code == 200 and body["status"]["phase"] == "Ready" and "count" not in body["spec"].get("gpu", {})
    assert body["metadata"]["generation"] == 1
    code, body = call(client, "PATCH", f"{CRS}/cap", {"spec": {"gpu": {"count": 2}}}, MERGE)
    assert body["metadata"]["generation"] == captured("patch-spec")["body"]["metadata"]["generation"] == 2


def test_finalizers_hold_a_deleted_object_until_the_last_one_goes(client: KubeClient) -> None:
    call(client, "POST", CRS, cr())
    call(client, "PATCH", f"{CRS}/cap", {"metadata": {"finalizers": ["kubellm.dev/finalizer"]}}, MERGE)
    code, body = call(client, "DELETE", f"{CRS}/cap")
    real = captured("delete-with-finalizer")["body"]
    assert (
        code == 200
        and body["metadata"]["deletionTimestamp"]
        and body["metadata"]["finalizers"] == real["metadata"]["finalizers"]
    )
    assert body["metadata"]["generation"] == 2  # deletion bumps the generation of a custom resource, too
    code, refused = call(
        client,
        "PATCH",
        f"{CRS}/cap",
        {"metadata": {"finalizers": ["kubellm.dev/finalizer", "x.dev/other"]}},
        MERGE,
    )
    assert code == captured("finalizer-added-while-deleting")["code"] == 422
    assert "no new finalizers can be added if the object is being deleted" in refused["message"]
    assert call(client, "GET", f"{CRS}/cap")[0] == 200
    code, _ = call(client, "PATCH", f"{CRS}/cap", {"metadata": {"finalizers": None}}, MERGE)
    assert code == captured("remove-last-finalizer")["code"] == 200
    assert call(client, "GET", f"{CRS}/cap")[0] == captured("get-after-finalized")["code"] == 404


def test_a_json_patch_whose_test_fails_is_refused_with_422(client: KubeClient) -> None:
    call(client, "POST", CRS, cr())
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}},
    ]
    assert call(client, "PATCH", f"{CRS}/cap", ops, "application/json-patch+json")[0] == 422


def test_the_garbage_collector_removes_dependents_whose_owners_are_gone(
    api: FakeApiServer, client: KubeClient
) -> None:
    _, owner = call(client, "POST", CRS, cr())
    reference = {
        "apiVersion": "kubellm.dev/v1alpha1",
        "kind": "LLMService",
        "name": "cap",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    for name, refs in (("owned", [reference]), ("free", None)):
        meta: dict[str, Any] = {"name": name, "namespace": "llm"}
        if refs:
            meta["ownerReferences"] = refs
        call(
            client,
            "POST",
            "/api/v1/namespaces/llm/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta},
        )
    call(client, "DELETE", f"{CRS}/cap")
    assert sorted(o["metadata"]["name"] for o in api.objects("ConfigMap")) == ["free"]


def test_a_watch_from_a_version_replays_what_changed_after_it(api: FakeApiServer, client: KubeClient) -> None:
    _, listed = call(client, "GET", CRS)
    since = listed["metadata"]["resourceVersion"]
    call(client, "POST", CRS, cr())
    events = client.watch(
        "kubellm.dev/v1alpha1", "LLMService", "llm", resource_version=since, server_timeout_s=1
    )
    kind, obj = next(events)  # the watch resumes for ever: the first event is the one created after the list
    assert (kind, obj["metadata"]["name"]) == ("ADDED", "cap")
