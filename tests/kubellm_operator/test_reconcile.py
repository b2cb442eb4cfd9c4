"""The reconcile as a pure function, on objects a real API server and scheduler stored, and on variations of them
made the way the kubelet would write them (pod statuses, container states, logs)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubellm.cluster.snapshot import ClusterSnapshot
from kubellm.operator.reconcile import desired, merge_conditions, reconcile

from .objects import real_resource, real_snapshot, resource

NOW = "2026-12-08T01:00:00Z"
LATER = "2026-12-08T01:05:00Z"


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_a_gpu_no_node_has_is_scheduled_false_with_the_schedulers_reason() -> None:
    outcome = reconcile(real_resource("qwen-a100"), real_snapshot("qwen-a100"), NOW)
    found = conditions(outcome.status)
    scheduled = found["Scheduled"]
    assert (scheduled["status"], scheduled["reason"], scheduled["finding"]) == (
        "False",
        "Unschedulable",
        "DOC004",
    )
    assert "didn't match Pod's node affinity/selector" in scheduled["message"]  # the scheduler's own words
    assert scheduled["specField"] == "gpu.type" and scheduled["fix"]
    assert found["Ready"]["status"] == "False" and found["Ready"]["finding"] == "DOC004"
    assert found["ModelReady"]["reason"] == "WaitingForNode"
    assert (
        found["Degraded"]["status"] == "False"
    )  # a sick device plugin on another node is not this service's
    assert outcome.status["phase"] == "Pending"
    assert outcome.status["gpu"] == "1x A100-80GB" and outcome.status["ready"] == "0/1"


def test_an_unbound_cache_claim_is_a_scheduling_problem_not_a_download_failure() -> None:
    found = conditions(reconcile(real_resource("qwen-7b"), real_snapshot("qwen-7b"), NOW).status)
    assert (found["Scheduled"]["status"], found["Scheduled"]["finding"]) == ("False", "DOC006")
    assert found["ModelReady"]["reason"] == "WaitingForNode"
    assert found["EngineReady"]["reason"] == "Starting" and "finding" not in found["EngineReady"]


def test_every_child_is_owned_by_the_resource_but_the_model_cache_and_nothing_is_cluster_scoped() -> None:
    want = desired(resource(storage={"access_mode": "ReadWriteMany", "storage_class": "nfs"}))
    assert want.ok and want.objects
    kinds = {o["kind"] for o in want.objects}
    assert "PersistentVolumeClaim" in kinds and "Namespace" not in kinds
    for obj in want.objects:
        assert obj["metadata"]["namespace"] == "llm"
        refs = obj["metadata"].get("ownerReferences")
        if obj["kind"] == "PersistentVolumeClaim":
            assert refs is None
        else:
            assert refs == [
                {"apiVersion": "kubellm.dev/v1alpha1", "kind": "LLMService", "name": "qwen", "uid": "uid-qwen",
                 "controller": True, "blockOwnerDeletion": True}
            ]  # fmt: skip


def test_a_spec_that_does_not_fit_renders_nothing_and_says_the_cheapest_change() -> None:
    big = resource(model={"source": "hf://Qwen/Qwen2.5-72B-Instruct"}, gpu={"type": "l4", "count": 1})
    outcome = reconcile(big, ClusterSnapshot(), NOW)
    planned = conditions(outcome.status)["Planned"]
    assert outcome.desired.objects == []
    assert (planned["status"], planned["reason"]) == ("False", "DoesNotFit")
    assert "does not fit" in planned["message"] and planned["fix"]
    assert outcome.status["phase"] == "Unplannable" and outcome.status["plan"]["fits"] is False
    assert [e.reason for e in outcome.events] == ["DoesNotFit", "DoesNotFit"]  # Planned and Ready


DOES_NOT_FIT = {
    "weights-fill-the-gpu": (
        {"model": {"source": "hf://Qwen/Qwen2.5-72B-Instruct"}, "gpu": {"type": "l4", "count": 1}},
        "Qwen2.5-72B-Instruct on 1x L4 (TP 1) does not fit: weights 135.4 GiB + activations ",
        "target concurrency",
    ),
    "kv-cache-under-one-request": (
        {
            "model": {"source": "hf://Qwen/Qwen2.5-7B-Instruct"},
            "gpu": {"type": "l4", "count": 1},
            "serving": {"max_model_len": 131072},
        },
        "Qwen2.5-7B-Instruct on 1x L4 (TP 1) does not fit: the KV cache holds ",
        "rope scaling",
    ),
    "no-automatic-context": (
        {"model": {"source": "hf://Qwen/Qwen2.5-14B-Instruct"}, "gpu": {"type": "v100", "count": 1}},
        "Qwen2.5-14B-Instruct on 1x V100 (TP 1) does not fit: the 0.44 GiB KV cache per GPU (149 blocks of 16 "
        "tokens) holds fewer than 4 requests of the shortest automatic max_model_len, 2,048 tokens",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(DOES_NOT_FIT))
def test_a_spec_that_does_not_fit_says_why_and_the_cheapest_change_not_warnings_about_running(
    case: str,
) -> None:
    """The message is the reason it does not fit and the fix; the planner's warnings (about a running replica's
    concurrency, its SLO, its rope scaling) are `kubellm plan`'s to print, not the reason."""
    fields, reason, a_warning = DOES_NOT_FIT[case]
    big = resource(**fields)
    want = desired(big)
    assert want.plan is not None and want.plan.suggestion is not None and not want.plan.fits
    if a_warning:
        assert any(a_warning in w for w in want.plan.warnings)  # what `kubellm plan` still prints
    outcome = reconcile(big, ClusterSnapshot(), NOW)
    planned = conditions(outcome.status)["Planned"]
    suggestion = want.plan.suggestion
    assert (planned["status"], planned["reason"]) == ("False", "DoesNotFit")
    assert planned["message"].startswith(reason)
    assert planned["message"].endswith(f"; the cheapest change that fits: {suggestion.what}")
    assert " 0 tokens" not in planned["message"] and "max_model_len 0" not in planned["message"]
    for warning in want.plan.warnings:
        assert warning not in planned["message"] and warning.split(":")[0] not in planned["message"]
    assert planned["fix"] == f"{suggestion.what} ({suggestion.why})"
    assert outcome.status["plan"]["reason"] == planned["message"]  # why, and the cheapest change that fits
    assert conditions(outcome.status)["Ready"]["message"] == f"Planned: {planned['message']}"


def test_a_spec_that_fits_has_no_reason_in_its_plan_summary() -> None:
    outcome = reconcile(resource(), ClusterSnapshot(), NOW)
    assert outcome.status["plan"]["fits"] is True and outcome.status["plan"]["reason"] == ""


def test_a_spec_that_needs_a_cluster_scoped_object_is_refused_with_what_to_do_instead() -> None:
    """Mountpoint for S3 (TGI from s3:// on EKS) needs a static PersistentVolume: never the operator's to write."""
    spec = {"model": {"source": "s3://my-models/qwen2.5-7b-instruct", "name": "Qwen2.5-7B-Instruct"},
            "engine": {"name": "tgi"}, "gpu": {"type": "A10G", "count": 1}, "serving": {"max_model_len": 8192},
            "placement": {"provider": "eks"}, "security": {"cloud_identity": "arn:aws:iam::111122223333:role/r"}}  # fmt: skip
    outcome = reconcile(resource("qwen-s3", **spec), ClusterSnapshot(), NOW)
    planned = conditions(outcome.status)["Planned"]
    assert (planned["status"], planned["reason"]) == ("False", "NeedsClusterScope")
    assert "PersistentVolume/" in planned["message"] and "cluster-scoped" in planned["message"]
    assert "engine.name vllm or sglang" in planned["fix"] and "pvc://" in planned["fix"]
    assert outcome.desired.objects == [] and outcome.status["phase"] == "Unplannable"
    # the same service streamed by vLLM renders no volume: the operator deploys it
    streamed = {**spec, "engine": {"name": "vllm"}}
    assert desired(resource("qwen-s3", **streamed)).ok


def test_an_invalid_spec_names_the_field_and_renders_nothing() -> None:
    outcome = reconcile(resource(gpu={"type": "l4", "count": 0}), ClusterSnapshot(), NOW)
    planned = conditions(outcome.status)["Planned"]
    assert (planned["reason"], outcome.status["phase"]) == ("InvalidSpec", "Invalid")
    assert "gpu.count" in planned["message"] and outcome.desired.objects == []


def test_a_gated_model_without_a_token_is_refused_before_the_cluster_sees_a_401() -> None:
    gated = resource(model={"source": "hf://meta-llama/Llama-3.1-8B-Instruct"})
    planned = conditions(reconcile(gated, ClusterSnapshot(), NOW).status)["Planned"]
    assert planned["status"] == "False" and "hf_token_secret" in planned["fix"]


def test_transition_times_stay_while_the_status_stays_and_only_changes_become_events() -> None:
    first = reconcile(real_resource("qwen-a100"), real_snapshot("qwen-a100"), NOW)
    again_resource = {**real_resource("qwen-a100"), "status": first.status}
    second = reconcile(again_resource, real_snapshot("qwen-a100"), LATER)
    assert second.events == []
    assert all(c["lastTransitionTime"] == NOW for c in second.status["conditions"])


def test_merge_sets_a_new_time_and_one_event_per_changed_condition() -> None:
    from kubellm.operator.conditions import Verdict

    previous = [
        {"type": "Scheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": NOW}
    ]
    merged, events = merge_conditions(
        previous, [Verdict("Scheduled", "True", "Scheduled", "on node a")], 2, LATER
    )
    assert merged[0].lastTransitionTime == LATER and merged[0].observedGeneration == 2
    assert [(e.type, e.reason) for e in events] == [("Normal", "Scheduled")]


# -- conditions moving as the kubelet would move them ------------------------------------------------------


def scheduled_snapshot(service: str) -> ClusterSnapshot:
    """The real snapshot with the engine pod bound to a node, as after a matching node was added."""
    snap = real_snapshot(service)
    for pod in snap.pods:
        pod["spec"]["nodeName"] = "gpu-l4-1"
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
    snap.events = [e for e in snap.events if e.get("reason") != "FailedScheduling"]
    return snap


def engine_pod(snap: ClusterSnapshot) -> dict[str, Any]:
    return next(p for p in snap.pods if p["metadata"]["labels"]["app.kubernetes.io/component"] == "engine")


def test_a_running_download_reports_bytes_and_a_percentage() -> None:
    snap = scheduled_snapshot("qwen-7b")
    pod = engine_pod(snap)
    pod["status"]["initContainerStatuses"] = [
        {"name": "prefetch", "ready": False, "restartCount": 0, "state": {"running": {"startedAt": NOW}}}
    ]
    snap.logs["operator-check/qwen-7b-0/prefetch"] = (
        "downloading model-00001-of-00004.safetensors\nkubellm-progress bytes=4294967296 total=16106127360\n"
    )
    outcome = reconcile(real_resource("qwen-7b"), snap, NOW)
    model = conditions(outcome.status)["ModelReady"]
    assert (model["status"], model["reason"]) == ("False", "Downloading")
    assert "4.0 GiB of 15.0 GiB" in model["message"] and "26.7 %" in model["message"]
    assert outcome.status["download"] == {"bytes": 4294967296, "totalBytes": 16106127360, "percent": 26.7}
    assert outcome.status["phase"] == "Downloading"


def test_a_finished_download_and_a_ready_engine_make_the_service_ready() -> None:
    snap = scheduled_snapshot("qwen-7b")
    pod = engine_pod(snap)
    pod["status"]["phase"] = "Running"
    pod["status"]["initContainerStatuses"] = [
        {
            "name": "prefetch",
            "ready": True,
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
        }
    ]
    pod["status"]["containerStatuses"] = [
        {"name": "engine", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": NOW}}}
    ]
    for workload in snap.workloads:
        replicas = workload["spec"].get("replicas", 1)
        workload["status"].update(
            {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
        )
    outcome = reconcile(real_resource("qwen-7b"), snap, NOW)
    found = conditions(outcome.status)
    assert {t: c["status"] for t, c in found.items()} == {
        "Planned": "True", "Scheduled": "True", "ModelReady": "True", "EngineReady": "True", "Ready": "True",
        "Degraded": "False",
    }  # fmt: skip
    assert outcome.status["phase"] == "Ready" and outcome.status["ready"] == "1/1"


def test_an_engine_crash_looping_on_its_kv_cache_is_degraded_with_the_doctors_finding() -> None:
    snap = scheduled_snapshot("qwen-7b")
    pod = engine_pod(snap)
    pod["status"]["phase"] = "Running"
    pod["status"]["containerStatuses"] = [
        {
            "name": "engine",
            "ready": False,
            "restartCount": 4,
            "state": {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": "back-off 1m20s restarting failed container",
                }
            },
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        }
    ]
    snap.logs["operator-check/qwen-7b-0/engine"] = (
        "(EngineCore_DP0 pid=240) ValueError: To serve at least one request with the models's max seq len (131072), "
        "(16.00 GiB KV cache is needed, which is larger than the available KV cache memory (9.13 GiB). Based on the "
        "available memory, the estimated maximum model length is 74800. Try increasing `gpu_memory_utilization` or "
        "decreasing `max_model_len` when initializing the engine.\n"
    )
    found = conditions(reconcile(real_resource("qwen-7b"), snap, NOW).status)
    engine, degraded = found["EngineReady"], found["Degraded"]
    assert engine["status"] == "False" and engine["reason"] == "KvCacheTooSmall"
    assert engine["finding"] and "74,800" in engine["fix"] and engine["specField"] == "serving.max_model_len"
    assert degraded["status"] == "True" and degraded["finding"] == engine["finding"]


def test_the_status_is_computed_for_the_generation_it_saw() -> None:
    body = copy.deepcopy(real_resource("qwen-a100"))
    body["metadata"]["generation"] = 7
    status = reconcile(body, real_snapshot("qwen-a100"), NOW).status
    assert status["observedGeneration"] == 7
    assert {c["observedGeneration"] for c in status["conditions"]} == {7}
