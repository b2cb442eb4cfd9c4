"""The lightkube-based client: paginated lists, watches, discovery of group-kinds, access reviews."""

from __future__ import annotations

import threading
import time

import pytest

from kubellm.cluster.client import KubeClient, parse_selector

from .fake_apiserver import FakeApiServer


def config_map(name: str, namespace: str = "llm", **labels: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }


def test_lists_come_page_by_page(api: FakeApiServer, client: KubeClient) -> None:
    for i in range(1203):
        api.put(config_map(f"cm-{i:04d}", team="a" if i % 2 else "b"))
    items = client.list("v1", "ConfigMap", "llm")
    assert len(items) == 1203 and items[0]["kind"] == "ConfigMap" and items[0]["apiVersion"] == "v1"
    pages = [c for c in api.calls("GET") if c.path == "/api/v1/namespaces/llm/configmaps"]
    assert [c.query.get("limit") for c in pages] == ["500", "500", "500"]
    assert [c.query.get("continue") for c in pages] == [None, "500", "1000"]
    selected = client.list("v1", "ConfigMap", "llm", "team=a")
    assert len(selected) == 601 and all(o["metadata"]["labels"]["team"] == "a" for o in selected)


def test_watch_sees_what_exists_then_what_changes(api: FakeApiServer, client: KubeClient) -> None:
    api.put(config_map("first"))
    seen: list[tuple[str, str]] = []
    events = client.watch("v1", "ConfigMap", "llm", server_timeout_s=3)

    def later() -> None:
        time.sleep(0.3)
        api.put(config_map("second"))

    threading.Thread(target=later, daemon=True).start()
    for event, obj in events:
        seen.append((event, obj["metadata"]["name"]))
        if len(seen) == 2:
            break
    assert seen == [("ADDED", "first"), ("ADDED", "second")]
    watch = next(c for c in api.calls("GET") if c.query.get("watch") == "true")
    assert watch.path == "/api/v1/namespaces/llm/configmaps" and watch.query["timeoutSeconds"] == "3"


def test_group_kinds_resolve_at_the_preferred_version(client: KubeClient) -> None:
    deployment = client.resource_for_group_kind("apps", "Deployment")
    assert deployment is not None and (deployment.api_version, deployment.plural) == (
        "apps/v1",
        "deployments",
    )
    assert client.resource_for_group_kind("", "Service").api_version == "v1"  # type: ignore[union-attr]
    assert client.resource_for_group_kind("leaderworkerset.x-k8s.io", "LeaderWorkerSet") is None


def test_access_review_answers(api: FakeApiServer, client: KubeClient) -> None:
    api.forbidden.add(("patch", "namespaces"))
    assert client.can_i("patch", "apps", "deployments", "llm")[0] is True
    assert client.can_i("patch", "", "namespaces", None)[0] is False
    review = next(c for c in api.calls("POST") if c.path.endswith("selfsubjectaccessreviews"))
    assert review.body["spec"]["resourceAttributes"] == {"verb": "patch", "group": "apps", "resource": "deployments",
                                                         "namespace": "llm"}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("a=b", {"a": "b"}),
        ("app.kubernetes.io/managed-by=kubellm,app.kubernetes.io/instance=x",
         {"app.kubernetes.io/managed-by": "kubellm", "app.kubernetes.io/instance": "x"}),
        ("app in (a,b, c)", {"app": ["a", "b", "c"]}),
        ("k==v", {"k": "v"}),
    ],
)  # fmt: skip
def test_selector_strings_become_lightkube_selectors(text: str, parsed: dict[str, object]) -> None:
    assert parse_selector(text) == parsed


def test_selector_forms_lightkube_cannot_take_are_refused() -> None:
    with pytest.raises(ValueError, match="not 'key=value'"):
        parse_selector("a!=b")
