"""The API double answers as the captured kube-apiserver 1.36 did (data/apiserver/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubellm.cluster.client import KubeClient

from .fake_apiserver import FakeApiServer

DATA = Path(__file__).parent / "data" / "apiserver"


def real(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def answer(
    client: KubeClient, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
) -> Any:
    if method == "PATCH":  # server-side apply, as the client sends it
        response = client._http.request(
            method, path, params={"fieldManager": "kubellm", **(query or {})}, content=json.dumps(body).encode(),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )  # fmt: skip
        return response.status_code, response.json()
    status, raw = client.request_raw(method, path, query, body)
    return status, json.loads(raw)


def test_rbac_denials_are_word_for_word(api: FakeApiServer, client: KubeClient) -> None:
    api.user = "llm-editor"
    api.forbidden |= {("list", "nodes"), ("patch", "namespaces"), ("patch", "resourcequotas", "llm")}
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}})
    assert answer(client, "GET", "/api/v1/nodes") == (403, real("403-list-nodes.json"))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}}
    assert answer(client, "PATCH", "/api/v1/namespaces/llm", namespace) == (
        403,
        real("403-patch-namespace.json"),
    )
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "x", "namespace": "llm"}}
    assert answer(client, "PATCH", "/api/v1/namespaces/llm/resourcequotas/x", quota) == (
        403,
        real("403-patch-resourcequota.json"),
    )


def test_unauthorized_and_missing_namespace(api: FakeApiServer, client: KubeClient) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "nope"}}
    assert answer(client, "PATCH", "/api/v1/namespaces/nope/configmaps/x", config, {"dryRun": "All"}) == (
        404,
        real("404-namespace-missing-dryrun.json"),
    )
    api.token = "changed"
    status, raw = client.request_raw("GET", "/api/v1/namespaces")
    assert (status, json.loads(raw)) == (401, real("401.json"))


def test_access_reviews_answer_with_allowed(api: FakeApiServer, client: KubeClient) -> None:
    api.forbidden.add(("patch", "namespaces"))
    for name, attributes in (
        ("ssar-denied.json", {"verb": "patch", "group": "", "resource": "namespaces"}),
        (
            "ssar-allowed.json",
            {"verb": "patch", "group": "apps", "resource": "deployments", "namespace": "llm"},
        ),
    ):
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": attributes}}  # fmt: skip
        _, got = answer(client, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
        expected = real(name)
        assert (got["kind"], got["apiVersion"]) == (expected["kind"], expected["apiVersion"])
        assert got["status"]["allowed"] is expected["status"]["allowed"]


def test_zero_values_are_dropped_and_bump_the_generation_as_the_real_server_does(
    api: FakeApiServer, client: KubeClient
) -> None:
    captured = real("apply-networkpolicy-empty-rules.json")
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "capture"}})
    path = "/apis/networking.k8s.io/v1/namespaces/capture/networkpolicies/deny"
    _, first = answer(client, "PATCH", path, captured["request_body"])
    _, second = answer(client, "PATCH", path, captured["request_body"])
    for got, want in ((first, captured["first_answer"]), (second, captured["second_answer"])):
        assert got["spec"] == want["spec"]
        assert got["metadata"]["generation"] == want["metadata"]["generation"]
        assert [m["manager"] for m in got["metadata"]["managedFields"]] == ["kubellm"]
        assert {k for k in got["metadata"]["managedFields"][0] if k != "fieldsV1"} == {
            k for k in want["metadata"]["managedFields"][0] if k != "fieldsV1"
        }
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    service = real("apply-service-publish-not-ready.json")
    _, stored = answer(client, "PATCH", "/api/v1/namespaces/capture/services/engine", service["request_body"])
    assert "publishNotReadyAddresses" not in stored["spec"]
    assert "publishNotReadyAddresses" not in service["answer"]["spec"]


def test_pages_carry_continue_and_remaining_count(api: FakeApiServer, client: KubeClient) -> None:
    captured = real("list-limit.json")
    for i in range(captured["items"] + captured["answer_metadata"]["remainingItemCount"]):
        api.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i:02d}", "namespace": "llm"},
                 "data": {}})  # fmt: skip
    _, page = answer(client, "GET", "/api/v1/namespaces/llm/configmaps", query={"limit": "2"})
    assert len(page["items"]) == captured["items"]
    assert set(page["metadata"]) == set(captured["answer_metadata"])
    assert page["metadata"]["remainingItemCount"] == captured["answer_metadata"]["remainingItemCount"]
    assert sorted(page["items"][0]) == captured["item_keys"]


def test_a_namespace_being_deleted_is_named_as_such() -> None:
    from kubellm.cluster.api_errors import error_for

    # kube-apiserver 1.36's answer to an apply into a terminating namespace
    body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": 'secrets "llama-8b-applyset" is forbidden: unable to create new content in namespace '
                                  "kubellm-test-prune because it is being terminated",
                       "reason": "Forbidden", "details": {"name": "llama-8b-applyset", "kind": "secrets"},
                       "code": 403}).encode()  # fmt: skip
    error = error_for(403, "PATCH", "/api/v1/namespaces/kubellm-test-prune/secrets/x", body, "https://k")
    assert error.what == "namespace 'kubellm-test-prune' is being deleted"
    assert "kubectl get namespace kubellm-test-prune" in error.fix
