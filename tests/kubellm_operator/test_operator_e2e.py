"""The operator end to end against the API double: kopf's watch, the status subresource, finalizers, owner
references and garbage collection answer as kube-apiserver does; pods and events are injected the way the
scheduler and the kubelet would write them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cluster.fake_apiserver import FakeApiServer
from kubellm.cluster.client import KubeClient
from kubellm.cluster.kubeconfig import Credentials

from .conftest import eventually
from .objects import items

pytestmark = pytest.mark.slow

CRS = "/apis/kubellm.dev/v1alpha1/namespaces/llm/llmservices"
SPEC = {
    "model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"},
    "gpu": {"type": "l4", "count": 1},
    "storage": {"access_mode": "ReadWriteMany", "storage_class": "nfs"},
    "gateway": {"replicas": 1},
}


def client_for(api: FakeApiServer) -> KubeClient:
    return KubeClient(Credentials(server=api.url, token=api.token, context="fake"), timeout_s=5)


def create(api: FakeApiServer, name: str = "qwen", **spec: Any) -> dict[str, Any]:
    body = {"apiVersion": "kubellm.dev/v1alpha1", "kind": "LLMService", "metadata": {"name": name, "namespace": "llm"},
            "spec": {**copy.deepcopy(SPEC), **spec}}  # fmt: skip
    with client_for(api) as client:
        created: dict[str, Any] = client.request("POST", CRS, body=body)
    return created


def resource(api: FakeApiServer, name: str = "qwen") -> dict[str, Any] | None:
    return api.store.get(("kubellm.dev/v1alpha1", "llmservices", "llm", name))


def condition(api: FakeApiServer, kind: str, name: str = "qwen") -> dict[str, Any]:
    found = resource(api, name) or {}
    for cond in (found.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


def child(api: FakeApiServer, api_version: str, plural: str, name: str) -> dict[str, Any] | None:
    return api.store.get((api_version, plural, "llm", name))


def unschedulable_engine_pod(service: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The real scheduler's unschedulable pod and its FailedScheduling event, moved to this service."""
    pod = copy.deepcopy(next(p for p in items("pods") if p["metadata"]["name"].startswith("qwen-a100-7")))
    event = copy.deepcopy(
        next(
            e
            for e in items("events")
            if e["reason"] == "FailedScheduling" and "a100" in e["involvedObject"]["name"]
        )
    )
    name = f"{service}-6d4b9c7f5-x2k9q"
    pod["metadata"].update({"name": name, "namespace": "llm", "uid": "uid-pod-1"})
    pod["metadata"]["labels"]["app.kubernetes.io/instance"] = service
    pod["metadata"]["labels"]["app.kubernetes.io/name"] = service
    pod["metadata"].pop("ownerReferences", None)
    event["metadata"].update({"name": f"{name}.18", "namespace": "llm"})
    event["involvedObject"].update({"name": name, "namespace": "llm", "uid": "uid-pod-1"})
    return pod, event


def test_create_schedule_update_delete(api: FakeApiServer, start_operator: Any) -> None:
    for node in items("nodes"):
        api.put(node)
    operator = start_operator()
    created = create(api)

    # -- applied: children owned by the resource, field manager kubellm-operator, an ApplySet, a finalizer ------
    engine = eventually(lambda: child(api, "apps/v1", "deployments", "qwen"), what="the engine Deployment")
    owner = engine["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "LLMService",
        "qwen",
        created["metadata"]["uid"],
        True,
    )
    assert [m["manager"] for m in engine["metadata"]["managedFields"]] == ["kubellm-operator"]
    assert engine["metadata"]["labels"]["applyset.kubernetes.io/part-of"].startswith("applyset-")
    assert child(api, "v1", "secrets", "qwen-applyset") is not None
    claim = child(api, "v1", "persistentvolumeclaims", "qwen-models")
    assert claim is not None and "ownerReferences" not in claim["metadata"]  # the cache outlives the resource
    assert not api.objects("ResourceQuota")  # the namespace admin's, never the operator's
    assert "kubellm.dev/finalizer" in (resource(api) or {})["metadata"]["finalizers"]
    planned = eventually(lambda: condition(api, "Planned"), what="Planned")
    assert planned["status"] == "True" and planned["observedGeneration"] == 1

    # -- the scheduler cannot place the engine: Scheduled=False with its reason, and an Event --------------------
    pod, event = unschedulable_engine_pod("qwen")
    api.put(pod)
    api.put(event)
    scheduled = eventually(
        lambda: condition(api, "Scheduled").get("status") == "False" and condition(api, "Scheduled"),
        what="Scheduled=False",
    )
    assert scheduled["reason"] == "Unschedulable" and scheduled["finding"] == "DOC004"
    assert "didn't match Pod's node affinity/selector" in scheduled["message"] and scheduled["fix"]
    posted = eventually(
        lambda: [e for e in api.objects("Event") if e.get("reason") == "Unschedulable"], what="an Event"
    )
    assert posted[0]["involvedObject"]["kind"] == "LLMService" and "Scheduled=False" in posted[0]["message"]
    assert (resource(api) or {})["status"]["phase"] == "Pending"

    # -- the pod runs and turns ready, the download is done: Ready=True -----------------------------------------
    pod["spec"]["nodeName"] = "gpu-l4-1"
    pod["status"] = {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
                     "containerStatuses": [{"name": "engine", "ready": True, "restartCount": 0, "state": {"running": {}}}]}  # fmt: skip
    api.store[("v1", "pods", "llm", pod["metadata"]["name"])] = pod
    api.store = {
        k: v for k, v in api.store.items() if not (k[1] == "events" and v.get("reason") == "FailedScheduling")
    }
    for key in (("apps/v1", "deployments", "llm", "qwen"), ("apps/v1", "deployments", "llm", "qwen-gateway")):
        workload = api.store[key]
        workload["status"] = {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    job = api.store[("batch/v1", "jobs", "llm", "qwen-prefetch")]
    job["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    eventually(lambda: condition(api, "Ready").get("status") == "True", what="Ready=True")
    status = (resource(api) or {})["status"]
    assert (
        status["phase"] == "Ready"
        and status["ready"] == "1/1"
        and condition(api, "ModelReady")["reason"] == "Verified"
    )
    assert status["plan"]["fits"] is True and status["plan"]["kvCacheTokens"] > 0

    # -- update: what the spec no longer renders is pruned --------------------------------------------------------
    patch_spec(api, {"gateway": {"enabled": False}, "observability": {"service_monitor": False}})
    eventually(
        lambda: child(api, "apps/v1", "deployments", "qwen-gateway") is None, what="the gateway pruned"
    )
    assert child(api, "monitoring.coreos.com/v1", "servicemonitors", "qwen-engine") is None
    assert child(api, "apps/v1", "deployments", "qwen") is not None
    eventually(
        lambda: (resource(api) or {}).get("status", {}).get("observedGeneration") == 2,
        what="generation 2 observed",
    )

    # -- delete: the finalizer removes the children and keeps the model cache ----------------------------------------
    with client_for(api) as client:
        client.request("DELETE", f"{CRS}/qwen")
    eventually(lambda: resource(api) is None, what="the resource gone")
    assert (
        child(api, "apps/v1", "deployments", "qwen") is None
        and child(api, "batch/v1", "jobs", "qwen-prefetch") is None
    )
    assert child(api, "v1", "persistentvolumeclaims", "qwen-models") is not None
    operator.stop()
    assert operator.error is None


def patch_spec(api: FakeApiServer, spec: dict[str, Any], name: str = "qwen") -> None:
    """`kubectl patch --type merge`: a merge patch of the spec."""
    with client_for(api) as client:
        response = client._http.request(
            "PATCH", f"{CRS}/{name}", content=json.dumps({"spec": spec}).encode(),
            headers={"Content-Type": "application/merge-patch+json"},
        )  # fmt: skip
    assert response.status_code == 200, response.text


def test_two_replicas_never_both_reconcile_and_the_standby_takes_over(
    api: FakeApiServer, start_operator: Any
) -> None:
    first = start_operator("replica-a")
    eventually(
        lambda: (
            (api.store.get(("coordination.k8s.io/v1", "leases", "ops", "kubellm-operator")) or {})
            .get("spec", {})
            .get("holderIdentity")
            == "replica-a"
        ),
        what="replica-a leading",
    )
    second = start_operator("replica-b")
    create(api, "small", model={"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"})
    eventually(lambda: condition(api, "Planned", "small"), what="the first reconcile")
    lease = api.store[("coordination.k8s.io/v1", "leases", "ops", "kubellm-operator")]
    assert lease["spec"]["holderIdentity"] == "replica-a" and lease["spec"]["leaseTransitions"] == 0
    first.stop()  # releases the Lease: the standby takes it at once and reconciles from then on
    eventually(
        lambda: (
            api.store[("coordination.k8s.io/v1", "leases", "ops", "kubellm-operator")]["spec"][
                "holderIdentity"
            ]
            == "replica-b"
        ),
        what="replica-b leading",
    )
    since = len(api.requests)
    patch_spec(api, {"serving": {"max_model_len": 2048}}, "small")
    eventually(
        lambda: (resource(api, "small") or {}).get("status", {}).get("observedGeneration") == 2,
        what="replica-b reconciling",
    )
    assert any(r.path.endswith("/llmservices/small/status") for r in api.requests[since:])
    second.stop()
    assert first.error is None and second.error is None


def test_a_spec_that_does_not_fit_is_refused_and_nothing_is_applied(
    api: FakeApiServer, start_operator: Any
) -> None:
    start_operator()
    create(api, "huge", model={"source": "hf://Qwen/Qwen2.5-72B-Instruct"}, gpu={"type": "l4", "count": 1})
    planned = eventually(lambda: condition(api, "Planned", "huge"), what="Planned")
    assert (planned["status"], planned["reason"]) == ("False", "DoesNotFit") and planned["fix"]
    assert (resource(api, "huge") or {})["status"]["phase"] == "Unplannable"
    assert not [
        k for k in api.store if k[3].startswith("huge-") or (k[1] == "deployments" and k[3] == "huge")
    ]


def replica_cache(service: str, index: int) -> dict[str, Any]:
    """A claim as the StatefulSet controller makes it from the volumeClaimTemplate (its labels, no ApplySet's)."""
    labels = {"app.kubernetes.io/instance": service, "app.kubernetes.io/component": "model-cache",
              "app.kubernetes.io/managed-by": "kubellm"}  # fmt: skip
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"models-{service}-{index}", "namespace": "llm", "labels": labels},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "30Gi"}}}}  # fmt: skip


def test_without_purge_the_per_replica_caches_stay(api: FakeApiServer, start_operator: Any) -> None:
    start_operator()
    create(api, storage={"access_mode": "ReadWriteOnce"})
    eventually(lambda: child(api, "apps/v1", "statefulsets", "qwen"), what="the engine StatefulSet")
    api.put(replica_cache("qwen", 0))
    with client_for(api) as client:
        client.request("DELETE", f"{CRS}/qwen")
    eventually(lambda: resource(api) is None, what="the resource gone")
    assert child(api, "apps/v1", "statefulsets", "qwen") is None
    assert child(api, "v1", "persistentvolumeclaims", "models-qwen-0") is not None


def test_purge_on_delete_takes_the_model_cache_too(api: FakeApiServer, start_operator: Any) -> None:
    start_operator()
    create(api, storage={**SPEC["storage"], "purge_on_delete": True})
    eventually(lambda: child(api, "v1", "persistentvolumeclaims", "qwen-models"), what="the cache claim")
    api.put(replica_cache("qwen", 0))  # a claim an earlier per-replica spec left
    with client_for(api) as client:
        client.request("DELETE", f"{CRS}/qwen")
    eventually(lambda: resource(api) is None, what="the resource gone")
    assert child(api, "v1", "persistentvolumeclaims", "qwen-models") is None
    assert child(api, "v1", "persistentvolumeclaims", "models-qwen-0") is None
    assert child(api, "v1", "secrets", "qwen-applyset") is None  # nothing left for the ApplySet to record
