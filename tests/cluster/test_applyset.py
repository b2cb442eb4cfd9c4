"""ApplySet (KEP-3659) labels and annotations, the same as kubectl's; the Role for missing permissions."""

from __future__ import annotations

import pytest
import yaml

from kubellm.cluster.access import Permission, binding_commands, role_for
from kubellm.cluster.applyset import (
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    NAMESPACES_ANNOTATION,
    TOOLING_ANNOTATION,
    ApplySetConflict,
    ApplySetParent,
    group_kind,
    membership,
    parent_object,
    read_parent,
)


def test_id_is_the_one_kubectl_computes() -> None:
    # `KUBECTL_APPLYSET=true kubectl apply --server-side --prune --applyset=astest -n default` (kubectl 1.36.2)
    # labelled its parent Secret and every member with this value
    assert ApplySetParent("astest", "default").id == "applyset-VI8qiu06oBjRKrhQtTXQCqRjEDeiYxHn4tkGcDxVKXg-v1"
    assert ApplySetParent("astest", "other").id != ApplySetParent("astest", "default").id
    assert ApplySetParent("astest", "default", kind="ConfigMap").id != ApplySetParent("astest", "default").id


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [("v1", "Service", "Service"), ("apps/v1", "Deployment", "Deployment.apps"),
     ("monitoring.coreos.com/v1", "ServiceMonitor", "ServiceMonitor.monitoring.coreos.com"),
     ("inference.networking.k8s.io/v1", "InferencePool", "InferencePool.inference.networking.k8s.io")],
)  # fmt: skip
def test_group_kinds_are_written_as_kubectl_writes_them(api_version: str, kind: str, expected: str) -> None:
    assert group_kind({"apiVersion": api_version, "kind": kind}) == expected


def test_parent_is_what_kubectl_sends() -> None:
    parent = ApplySetParent("astest", "default")
    # the parent kubectl wrote for a ConfigMap and a Deployment in one namespace
    assert parent_object(parent, {"Deployment.apps", "ConfigMap"}, {"default"}) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "astest",
            "namespace": "default",
            "labels": {ID_LABEL: "applyset-VI8qiu06oBjRKrhQtTXQCqRjEDeiYxHn4tkGcDxVKXg-v1"},
            "annotations": {
                TOOLING_ANNOTATION: "kubellm/v0.1.0",
                GROUP_KINDS_ANNOTATION: "ConfigMap,Deployment.apps",
                NAMESPACES_ANNOTATION: "",
            },
        },
    }
    other = parent_object(parent, {"ConfigMap"}, {"default", "llm", "monitoring"})
    assert other["metadata"]["annotations"][NAMESPACES_ANNOTATION] == "llm,monitoring"


def test_reading_a_parent_back() -> None:
    parent = ApplySetParent("svc-applyset", "llm")
    live = parent_object(parent, {"ConfigMap", "Deployment.apps"}, {"llm", "monitoring"})
    recorded = read_parent(live, parent)
    assert recorded.exists and recorded.group_kinds == {"ConfigMap", "Deployment.apps"}
    assert recorded.namespaces == {"llm", "monitoring"}
    assert not read_parent(None, parent).exists
    assert membership(
        [{"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "llm"}}]
    ).group_kinds == {"Service"}


@pytest.mark.parametrize(
    ("labels", "annotations", "message"),
    [({ID_LABEL: "x"}, {}, "no applyset.kubernetes.io/tooling"),
     ({ID_LABEL: "x"}, {TOOLING_ANNOTATION: "kubectl/v1.36.2"}, "managed by 'kubectl/v1.36.2'"),
     ({ID_LABEL: "wrong"}, {TOOLING_ANNOTATION: "kubellm/v0.0.9"}, "expected 'applyset-")],
)  # fmt: skip
def test_a_parent_that_is_not_ours_is_a_conflict(
    labels: dict[str, str], annotations: dict[str, str], message: str
) -> None:
    live = {
        "metadata": {"name": "svc-applyset", "namespace": "llm", "labels": labels, "annotations": annotations}
    }
    with pytest.raises(ApplySetConflict, match=message.replace("(", r"\(")):
        read_parent(live, ApplySetParent("svc-applyset", "llm"))


def test_role_grants_exactly_the_missing_permissions() -> None:
    missing = [
        Permission("llm", "", "resourcequotas", "patch"),
        Permission("llm", "", "resourcequotas", "create"),
        Permission("llm", "keda.sh", "scaledobjects", "patch"),
        Permission("llm", "monitoring.coreos.com", "servicemonitors", "patch"),
        Permission("llm", "monitoring.coreos.com", "prometheusrules", "patch"),
        Permission(None, "", "namespaces", "patch"),
    ]
    roles = role_for(missing, "kubellm-svc")
    assert roles == [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "kubellm-svc", "namespace": "llm"},
            "rules": [
                {"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["create", "patch"]},
                {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["patch"]},
                {"apiGroups": ["monitoring.coreos.com"], "resources": ["prometheusrules", "servicemonitors"],
                 "verbs": ["patch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kubellm-svc"},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}],
        },
    ]  # fmt: skip
    yaml.safe_dump_all(roles)  # plain data, ready for kubectl apply -f -
    assert binding_commands(roles, "jane@example.com") == [
        "kubectl create rolebinding kubellm-svc --role=kubellm-svc --user=jane@example.com -n llm",
        "kubectl create clusterrolebinding kubellm-svc --clusterrole=kubellm-svc --user=jane@example.com",
    ]
