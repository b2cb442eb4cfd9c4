"""`kubellm render operator`: everything that installs the operator (the Helm chart renders the same objects).

The CRD; a ServiceAccount; a ClusterRole with exactly what the reconcile uses — server-side apply and
prune of the namespaced kinds render emits, the reads of the doctor, Events, the LLMService status, and
the permissions of the Roles render emits (RBAC lets a subject write a Role only when it holds every
permission in it; no ``escalate`` or ``bind``) — and a Role for the Lease in the operator's namespace; a
Deployment of the kubellm image (two replicas, one leading), a default-deny NetworkPolicy that lets it reach
only DNS and the API server, and a PDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubellm import RELEASE_IMAGE, __version__
from kubellm.operator.crd import GROUP, PLURAL, crd
from kubellm.render.inference_pool import PICKER_RULES
from kubellm.render.security import container_security, pod_security

NAME = "kubellm-operator"
HEALTH_PORT = 8081
WRITE = [
    "get",
    "list",
    "create",
    "patch",
    "delete",
]  # server-side apply creates and patches; prune lists and deletes
READ = ["get", "list", "watch"]
# Namespaced kinds render emits → (API group, resource). Cluster-scoped ones (Namespace, PersistentVolume,
# PriorityClass, RuntimeClass) and the namespace admin's ResourceQuota are never the operator's to write:
# a spec that needs a cluster-scoped object is refused (reconcile.CLUSTER_SCOPED_FIXES says what to do).
CHILD_RESOURCES: dict[str, tuple[str, str]] = {
    "ServiceAccount": ("", "serviceaccounts"),
    # the endpoint picker's Role and RoleBinding (gateway.kind: inference-extension); the ClusterRole holds
    # the Role's permissions (PICKER_RULES), which is what lets the operator write it and bind it
    "Role": ("rbac.authorization.k8s.io", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
    "ConfigMap": ("", "configmaps"),
    "Secret": ("", "secrets"),  # the ApplySet parent (kubectl's default parent kind) is a Secret
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "Service": ("", "services"),
    "Job": ("batch", "jobs"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "LeaderWorkerSet": ("leaderworkerset.x-k8s.io", "leaderworkersets"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    "HTTPRoute": ("gateway.networking.k8s.io", "httproutes"),
    "InferencePool": ("inference.networking.k8s.io", "inferencepools"),
    "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
    "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "TriggerAuthentication": ("keda.sh", "triggerauthentications"),  # KEDA's login to managed Prometheus
    "ScaledObject": ("keda.sh", "scaledobjects"),
    "ServiceMonitor": ("monitoring.coreos.com", "servicemonitors"),
    "PodMonitor": ("monitoring.coreos.com", "podmonitors"),
    "PrometheusRule": ("monitoring.coreos.com", "prometheusrules"),
}


@dataclass(frozen=True)
class InstallOptions:
    """What a cluster admin chooses when installing the operator."""

    namespace: str = "kubellm-system"
    image: str = RELEASE_IMAGE  # the one kubellm image (gateway, bench Jobs, operator)
    replicas: int = 2
    resync_s: int = 30
    namespace_object: bool = True


def labels() -> dict[str, str]:
    return {
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/part-of": "kubellm",
        "app.kubernetes.io/component": "operator",
        "app.kubernetes.io/version": __version__,
        "app.kubernetes.io/managed-by": "kubellm",
    }


def selector() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME}


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels()}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _grouped(resources: list[tuple[str, str]], verbs: list[str]) -> list[dict[str, Any]]:
    """One rule per API group, resources sorted (what `kubectl describe clusterrole` shows compactly)."""
    groups: dict[str, list[str]] = {}
    for group, resource in resources:
        groups.setdefault(group, []).append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(set(names)), "verbs": list(verbs)}
        for group, names in sorted(groups.items())
    ]


def cluster_rules() -> list[dict[str, Any]]:
    """The ClusterRole's rules: each says why in the docs (docs/operator.md, 'Permissions')."""
    return [
        {"apiGroups": [GROUP], "resources": [PLURAL], "verbs": ["get", "list", "watch", "patch", "update"]},
        {"apiGroups": [GROUP], "resources": [f"{PLURAL}/status"], "verbs": ["get", "patch", "update"]},
        # blockOwnerDeletion on the children's owner references needs update on the owner's finalizers
        {"apiGroups": [GROUP], "resources": [f"{PLURAL}/finalizers"], "verbs": ["update"]},
        *_grouped(list(CHILD_RESOURCES.values()), WRITE),
        # the doctor's reads: pods and their logs, nodes and the GPU stack, events, RuntimeClasses, and the
        # StorageClasses that say why a cache claim does not bind (PVCs are children, listed above)
        {"apiGroups": [""], "resources": ["pods", "nodes", "events"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": ["node.k8s.io"], "resources": ["runtimeclasses"], "verbs": ["get", "list"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list"]},
        # kopf follows the CRDs (resources appearing, changing) and, with --namespace, the namespaces
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["list", "watch"],
        },
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
        # kopf posts the Events of each condition change
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        # held only to be granted: the endpoint picker's Role (RBAC's escalation check)
        *delegated_rules(),
    ]


def delegated_rules() -> list[dict[str, Any]]:
    """The permissions of every Role render emits, which the operator must hold to write them."""
    return [
        {"apiGroups": list(r["apiGroups"]), "resources": list(r["resources"]), "verbs": list(r["verbs"])}
        for r in PICKER_RULES
    ]


def lease_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]


def _deployment(options: InstallOptions) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": "health"}, "periodSeconds": 10, "timeoutSeconds": 3}
    container = {
        "name": "operator",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["kubellm", "operator"],
        "args": [f"--resync={options.resync_s}", f"--health-port={HEALTH_PORT}"],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        "ports": [{"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
        "livenessProbe": {**probe, "failureThreshold": 6},
        "readinessProbe": {**probe, "failureThreshold": 3},
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "64Mi"},
            "limits": {"cpu": "1", "memory": "512Mi", "ephemeral-storage": "256Mi"},
        },
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": True,  # the operator's only credential for the API server
        "enableServiceLinks": False,
        "securityContext": pod_security(65532),
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector()},
            }
        ],
    }
    metadata = _meta(NAME, options.namespace)
    metadata["annotations"] = {
        "kubellm.dev/lint-ignore": "SEC010"
    }  # its token is how it reaches the API server
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": options.replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector()},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": labels()}, "spec": pod},
        },
    }


def _network_policy(namespace: str) -> dict[str, Any]:
    """Nothing in; out only DNS and the API server (443 on its Service, 6443 on the endpoints after DNAT)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(NAME, namespace),
        "spec": {
            "podSelector": {"matchLabels": selector()},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [
                {
                    "to": [
                        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]},
            ],
        },
    }


def install_objects(options: InstallOptions | None = None) -> list[dict[str, Any]]:
    """Every object of the operator's installation, in apply order."""
    options = options or InstallOptions()
    ns = options.namespace
    objects: list[dict[str, Any]] = []
    if options.namespace_object:
        namespace = _meta(ns)
        namespace["labels"] = {
            **namespace["labels"],
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        }
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": namespace})
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]
    objects += [
        crd(),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, ns), "automountServiceAccountToken": False},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": _meta(NAME), "rules": cluster_rules()},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(NAME),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": subject,
        },
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(f"{NAME}-leader", ns), "rules": lease_rules()},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(f"{NAME}-leader", ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{NAME}-leader"},
            "subjects": subject,
        },
        _deployment(options),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(NAME, ns),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector()}},
        },
        _network_policy(ns),
    ]  # fmt: skip
    return objects
