"""Against a real kube-apiserver (skipped without one): render, apply, re-apply, prune, kubectl's ApplySet view.

    KUBELLM_TEST_KUBECONFIG=~/throwaway-admin.kubeconfig pytest tests/cluster/test_real_apiserver.py

Use a throwaway cluster: the test installs the CRDs kubellm renders for (from src/kubellm/render/schemas)
and creates and deletes namespaces named kubellm-test-*. Optional: KUBELLM_TEST_KUBECONFIG_EDIT, a user
bound to ClusterRole edit in namespace KUBELLM_TEST_EDIT_NAMESPACE (default llm), and KUBELLM_TEST_KUBECTL
(default: kubectl on PATH) for the checks against kubectl's ApplySet.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubellm.cluster.access import AccessError
from kubellm.cluster.apply import apply_objects, delete_service
from kubellm.cluster.applyset import GROUP_KINDS_ANNOTATION, ID_LABEL, PART_OF_LABEL, ApplySetParent
from kubellm.cluster.client import KubeClient
from kubellm.cluster.kubeconfig import load_credentials
from kubellm.cluster.manifests import render_service
from kubellm.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if p.name != "cluster.yaml")
SCHEMAS = ROOT / "src" / "kubellm" / "render" / "schemas"
KUBECONFIG = os.environ.get("KUBELLM_TEST_KUBECONFIG")
pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="needs a real API server: set KUBELLM_TEST_KUBECONFIG")


def crd_from_schema(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    group, _, version = data["apiVersion"].rpartition("/")
    kind = data["kind"]
    plural = kind.lower() + ("es" if kind.lower().endswith("s") else "s")
    protected = group.endswith(".k8s.io") or group.endswith(".kubernetes.io")
    annotations = {"api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/1111"}
    subresources: dict[str, Any] = (
        {"status": {}} if "status" in data["openAPIV3Schema"].get("properties", {}) else {}
    )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "annotations": annotations if protected else {}},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {"name": version, "served": True, "storage": True, "subresources": subresources,
                 "schema": {"openAPIV3Schema": data["openAPIV3Schema"]}}
            ],
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def admin() -> Iterator[KubeClient]:
    import time

    with KubeClient(load_credentials(KUBECONFIG)) as client:
        if not client.resources("apiextensions.k8s.io/v1"):
            pytest.skip("the server serves no CRDs")
        for _ in range(120):  # namespaces of an earlier run may still be terminating
            if not any(
                n["metadata"]["name"].startswith("kubellm-test-") for n in client.list("v1", "Namespace")
            ):
                break
            time.sleep(1)
        for path in sorted(SCHEMAS.glob("*.json")):
            client.apply(crd_from_schema(path), force_conflicts=True, field_manager="kubellm-test")
        time.sleep(2)  # CRDs become served a moment after they are created
        yield client
        for ns in client.list("v1", "Namespace"):
            name = ns["metadata"]["name"]
            if name.startswith("kubellm-test-"):
                client.delete("v1", "Namespace", None, name)
                # pods bound to nodes without a kubelet (fake nodes) wait forever for one: remove them now
                for pod in client.list("v1", "Pod", name):
                    client.request_raw(
                        "DELETE",
                        f"/api/v1/namespaces/{name}/pods/{pod['metadata']['name']}",
                        {"gracePeriodSeconds": "0"},
                    )


def rendered(example: Path, namespace: str) -> tuple[str, list[dict[str, Any]]]:
    spec = load_spec(example)
    spec = spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"namespace": namespace})})
    _, objects = render_service(spec)
    return spec.metadata.name, objects


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list) and node:
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path, node


def lookup(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return "<absent>"
    return obj


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_render_is_what_the_server_keeps_and_reapply_changes_nothing(
    admin: KubeClient, example: Path
) -> None:
    namespace = f"kubellm-test-{example.stem.replace('.', '-')}"[:63]
    service, objects = rendered(example, namespace)
    apply_objects(admin, objects, service, namespace=namespace)
    dropped = []
    for obj in objects:
        stored = admin.get(
            obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]
        )
        assert stored is not None
        for path, value in leaves(obj):
            if path[:2] == ("metadata", "labels") or lookup(stored, path) == value:
                continue
            dropped.append((obj["kind"], ".".join(map(str, path)), value, lookup(stored, path)))
    assert dropped == []
    before = {(o["kind"], o["metadata"]["name"]): _versions(admin, o) for o in objects}
    again = apply_objects(admin, objects, service, namespace=namespace)
    assert [a.line() for a in again if a.verb != "unchanged"] == []
    assert {(o["kind"], o["metadata"]["name"]): _versions(admin, o) for o in objects} == before


def _versions(client: KubeClient, obj: dict[str, Any]) -> tuple[Any, Any]:
    """The generation and kubellm's managedFields entry (controllers may touch status and bump resourceVersion)."""
    stored = client.get(
        obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]
    )
    assert stored is not None
    ours = [m for m in stored["metadata"]["managedFields"] if m["manager"] == "kubellm"]
    return stored["metadata"].get("generation"), json.dumps(ours, sort_keys=True)


def test_inference_extension_objects_are_what_the_server_keeps(admin: KubeClient) -> None:
    """gateway.kind: inference-extension: the InferencePool (against the v1.5.0 CRD), the picker, the route."""
    namespace = "kubellm-test-inference-pool"
    spec = load_spec(ROOT / "examples" / "llama-3.1-8b-l4.yaml")
    gateway = spec.gateway.model_copy(
        update={"kind": "inference-extension", "gateway_ref": "gateway-system/inference-gateway"}
    )
    metadata = spec.metadata.model_copy(update={"namespace": namespace})
    _, objects = render_service(spec.model_copy(update={"gateway": gateway, "metadata": metadata}))
    assert "InferencePool" in {o["kind"] for o in objects}
    apply_objects(admin, objects, spec.metadata.name, namespace=namespace)
    for obj in objects:
        stored = admin.get(
            obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]
        )
        assert stored is not None
        for path, value in leaves(obj):
            assert path[:2] == ("metadata", "labels") or lookup(stored, path) == value, (obj["kind"], path)
    again = apply_objects(admin, objects, spec.metadata.name, namespace=namespace)
    assert [a.line() for a in again if a.verb != "unchanged"] == []


def test_server_dry_run_into_a_new_namespace_checks_every_object(admin: KubeClient) -> None:
    service, objects = rendered(ROOT / "examples" / "llama-3.1-8b-l4.yaml", "kubellm-test-never-created")
    actions = apply_objects(admin, objects, service, dry_run=True)
    assert len(actions) == len(objects) and all(a.dry_run for a in actions)
    assert {a.verb for a in actions} == {"created"}
    assert admin.get("v1", "Namespace", None, "kubellm-test-never-created") is None


def test_prune_and_delete_on_the_real_server(admin: KubeClient) -> None:
    namespace = "kubellm-test-prune"
    service, objects = rendered(ROOT / "examples" / "llama-3.1-8b-l4.yaml", namespace)
    apply_objects(admin, objects, service, namespace=namespace)
    fewer = [o for o in objects if o["kind"] not in ("ServiceMonitor", "PrometheusRule")]
    pruned = apply_objects(admin, fewer, service, namespace=namespace, prune=True)
    assert {a.ref.split("/")[0] for a in pruned if a.verb == "pruned"} == {"ServiceMonitor", "PrometheusRule"}
    parent = admin.get("v1", "Secret", namespace, f"{service}-applyset")
    assert (
        parent is not None
        and "ServiceMonitor" not in parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION]
    )
    deleted = delete_service(admin, fewer, namespace, service, purge=True)
    assert {a.verb for a in deleted} == {"deleted"}
    assert admin.get("v1", "Secret", namespace, f"{service}-applyset") is None


def kubectl() -> str | None:
    return os.environ.get("KUBELLM_TEST_KUBECTL") or shutil.which("kubectl")


@pytest.mark.skipif(kubectl() is None, reason="needs kubectl")
def test_kubectl_and_kubellm_agree_on_the_applyset(admin: KubeClient) -> None:
    ours, theirs = "kubellm-test-as-kubellm", "kubellm-test-as-kubectl"
    service, objects = rendered(ROOT / "examples" / "llama-3.1-8b-l4.yaml", ours)
    apply_objects(admin, objects, service, namespace=ours)
    _, for_kubectl = rendered(ROOT / "examples" / "llama-3.1-8b-l4.yaml", theirs)
    admin.apply(next(o for o in for_kubectl if o["kind"] == "Namespace"))
    members = [o for o in for_kubectl if o["kind"] != "Namespace"]  # never a member for kubellm
    env = {**os.environ, "KUBECONFIG": str(KUBECONFIG), "KUBECTL_APPLYSET": "true"}
    subprocess.run(
        [str(kubectl()), "apply", "--server-side", "--field-manager=kubellm", "--prune",
         f"--applyset={service}-applyset", "-n", theirs, "-f", "-"],
        input="\n---\n".join(json.dumps(o) for o in members), text=True, env=env, check=True, capture_output=True,
    )  # fmt: skip
    ours_parent = admin.get("v1", "Secret", ours, f"{service}-applyset")
    theirs_parent = admin.get("v1", "Secret", theirs, f"{service}-applyset")
    assert ours_parent is not None and theirs_parent is not None
    assert theirs_parent["metadata"]["labels"][ID_LABEL] == ApplySetParent(f"{service}-applyset", theirs).id
    assert ours_parent["metadata"]["labels"][ID_LABEL] == ApplySetParent(f"{service}-applyset", ours).id
    assert (
        ours_parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION]
        == theirs_parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION]
    )

    def member_names(namespace: str) -> set[tuple[str, str]]:
        found = set()
        parent = ApplySetParent(f"{service}-applyset", namespace)
        for obj in members:
            for live in admin.list(obj["apiVersion"], obj["kind"], namespace, f"{PART_OF_LABEL}={parent.id}"):
                found.add((live["kind"], live["metadata"]["name"]))
        return found

    assert member_names(ours) == member_names(theirs) == {(o["kind"], o["metadata"]["name"]) for o in members}
    # kubectl reads kubellm's parent and refuses to take it over, as KEP-3659 asks of tools
    refused = subprocess.run(
        [str(kubectl()), "apply", "--server-side", "--prune", f"--applyset={service}-applyset", "-n", ours, "-f", "-"],
        input=json.dumps(members[0] | {"metadata": {**members[0]["metadata"], "namespace": ours}}),
        text=True, env=env, capture_output=True,
    )  # fmt: skip
    assert refused.returncode != 0 and 'managed by tooling "kubellm" instead of "kubectl"' in refused.stderr


EDIT_KUBECONFIG = os.environ.get("KUBELLM_TEST_KUBECONFIG_EDIT")


@pytest.mark.skipif(not EDIT_KUBECONFIG, reason="needs KUBELLM_TEST_KUBECONFIG_EDIT (a user bound to edit)")
def test_a_user_bound_to_edit_applies_namespace_scoped(admin: KubeClient) -> None:
    namespace = os.environ.get("KUBELLM_TEST_EDIT_NAMESPACE", "llm")
    spec = load_spec(ROOT / "examples" / "llama-3.1-8b-l4.yaml")
    spec = spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"namespace": namespace,
                                                                              "name": "kubellm-test-edit"})})  # fmt: skip
    observability = spec.observability.model_copy(update={"service_monitor": False, "alerts": False})
    scaling = spec.scaling.model_copy(update={"autoscaler": "hpa"})
    _, objects = render_service(spec.model_copy(update={"observability": observability, "scaling": scaling}))
    with KubeClient(load_credentials(EDIT_KUBECONFIG)) as editor:
        with pytest.raises(AccessError) as info:
            apply_objects(editor, objects, "kubellm-test-edit", namespace=namespace)
        admin_kinds = {"Namespace", "ResourceQuota"} & {o["kind"] for o in objects}
        plurals = {"Namespace": "namespaces", "ResourceQuota": "resourcequotas"}
        assert {p.resource for p in info.value.missing} == {plurals[k] for k in admin_kinds}
        actions = apply_objects(
            editor, objects, "kubellm-test-edit", namespace=namespace, namespace_only=True
        )
        assert {a.ref.split("/")[0] for a in actions if a.verb == "skipped"} == admin_kinds
        deleted = delete_service(
            editor, objects, namespace, "kubellm-test-edit", purge=True, namespace_only=True
        )
        assert {a.verb for a in deleted} == {"deleted"}
