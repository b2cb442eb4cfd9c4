"""status, --wait progress and the live doctor, against the HTTP test double."""

from __future__ import annotations

from typing import Any

import pytest

from kubellm.cluster.client import KubeClient
from kubellm.cluster.doctor import diagnose
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.live import engine_metrics, gather
from kubellm.cluster.rollout import RolloutError, endpoint, service_snapshot, wait_for_rollout
from kubellm.cluster.snapshot import ClusterSnapshot
from kubellm.cluster.status import Progress, rollout_progress, service_status

from .builders import node, pod, status_crashloop, status_running, status_waiting
from .fake_apiserver import FakeApiServer

HINTS = DoctorHints(namespace="llm", service="llama-8b")
LABELS = {
    "app.kubernetes.io/instance": "llama-8b",
    "app.kubernetes.io/managed-by": "kubellm",
    "app.kubernetes.io/component": "engine",
}
METRICS = """# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.0
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.43
"""


def deployment(ready: int, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llama-8b", "namespace": "llm", "labels": LABELS},
        "spec": {
            "replicas": replicas,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/instance": "llama-8b",
                    "app.kubernetes.io/component": "engine",
                }
            },
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": replicas,
            "availableReplicas": ready,
        },
    }


def prefetch_job(succeeded: int) -> dict[str, Any]:
    status = {"succeeded": 1} if succeeded else {"active": 1}
    labels = {**LABELS, "app.kubernetes.io/component": "prefetch"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "llama-8b-prefetch", "namespace": "llm", "labels": labels},
        "status": status,
    }


def engine_pod(ready: bool, **kwargs: Any) -> dict[str, Any]:
    statuses = kwargs.pop("statuses", [status_running(ready=ready)])
    return pod("llama-8b-7c9f8d6b5-x2x9k", labels=LABELS, statuses=statuses, node_name="gpu-1", **kwargs)


def test_status_reports_replicas_gpus_and_engine_load(api: FakeApiServer, client: KubeClient) -> None:
    api.put(node("gpu-1", gpus=8))
    api.put(deployment(ready=1))
    api.put(engine_pod(True))
    api.put(pod("unrelated-0", labels={"app": "other"}))
    api.proxy[("llm", "llama-8b-7c9f8d6b5-x2x9k", 8000, "/metrics")] = METRICS
    snap = service_snapshot(client, HINTS, logs=False)
    pods = [p for p in snap.pods if HINTS.in_scope(p) and p["metadata"]["namespace"] == "llm"]
    snap.pods = pods
    status = service_status(
        snap,
        "llama-8b",
        "llm",
        engine_metrics(client, pods),
        "http://llama-8b-gateway.llm.svc.cluster.local:80/v1",
    )
    assert status["workloads"] == [
        {"kind": "Deployment", "name": "llama-8b", "desired": 1, "ready": 1, "updated": 1, "available": 1}
    ]
    assert [p["name"] for p in status["pods"]] == ["llama-8b-7c9f8d6b5-x2x9k"]
    assert status["gpus"] == {
        "used_by_service": {"nvidia.com/gpu": 1},
        "cluster_allocatable": {"nvidia.com/gpu": 8},
    }
    assert status["engines"]["llama-8b-7c9f8d6b5-x2x9k"] == {
        "waiting": 3.0,
        "running": 12.0,
        "kv_cache_usage": 0.43,
    }


def test_engine_that_does_not_answer_is_left_out(api: FakeApiServer, client: KubeClient) -> None:
    assert engine_metrics(client, [engine_pod(True)]) == {}


def test_wait_follows_prefetch_then_load_then_ready(api: FakeApiServer, client: KubeClient) -> None:
    api.put(prefetch_job(succeeded=0))
    api.put(deployment(ready=0))
    api.put(engine_pod(False, phase="Pending", statuses=[status_waiting("vllm", "PodInitializing", "")]))
    stages = iter([
        lambda: api.put(prefetch_job(succeeded=1)),
        lambda: api.put(engine_pod(False)),
        lambda: api.put(deployment(ready=1)),
    ])  # fmt: skip
    seen: list[Progress] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        next(stages)()

    final = wait_for_rollout(
        client, HINTS, timeout_s=600, poll_s=5, on_progress=seen.append, clock=lambda: now[0], sleep=sleep
    )
    assert final.done and final.line == "llama-8b: 1/1 ready"
    lines = [p.line for p in seen]
    assert lines[0].startswith("prefetch: downloading")
    assert "llama-8b: 0/1 ready, pulling the image" in lines
    assert "llama-8b: 0/1 ready, loading the model" in lines


def test_wait_stops_on_a_finding_waiting_cannot_fix(api: FakeApiServer, client: KubeClient) -> None:
    api.put(deployment(ready=0))
    msg = 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/vllm/vllm-openai:v0.10.11": not found'
    api.put(engine_pod(False, statuses=[status_waiting("vllm", "ErrImagePull", msg)]))
    with pytest.raises(RolloutError) as info:
        wait_for_rollout(client, HINTS, timeout_s=600, sleep=lambda s: None)
    assert "image reference does not exist" in info.value.what
    assert "kubellm doctor --namespace llm --service llama-8b" in info.value.fix


def test_wait_times_out_with_the_stage_and_the_doctor_command(api: FakeApiServer, client: KubeClient) -> None:
    api.put(deployment(ready=0))
    api.put(engine_pod(False))
    now = [0.0]
    with pytest.raises(RolloutError) as info:
        wait_for_rollout(
            client,
            HINTS,
            timeout_s=30,
            poll_s=10,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
    assert "not ready after 30 s (llama-8b: 0/1 ready, loading the model)" in info.value.what


def test_live_doctor_reads_previous_logs_of_a_crashing_engine(api: FakeApiServer, client: KubeClient) -> None:
    api.put(node("gpu-1", driver=(550, 127)))
    api.put(engine_pod(False, statuses=[status_crashloop(restarts=3)]))
    log = "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be stored in KV cache (52336). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.\n"
    api.logs[("llm", "llama-8b-7c9f8d6b5-x2x9k", "vllm", True)] = log
    snap = gather(client, HINTS)
    assert snap.api_versions is not None and "keda.sh/v1alpha1" in snap.api_versions
    findings = diagnose(snap, HINTS)
    assert [f.id for f in findings if f.severity == "error"] == ["SIG008"]
    previous = [r for r in api.calls("GET") if r.path.endswith("/log")]
    assert previous and previous[0].query["previous"] == "true"


def test_live_doctor_keeps_going_when_a_list_is_forbidden(api: FakeApiServer, client: KubeClient) -> None:
    api.forbidden.add(("list", "nodes"))
    snap = gather(client, HINTS)
    assert any("could not list Node" in w and "forbidden" in w for w in snap.warnings)


def test_rollout_progress_without_workloads_and_endpoint_choice() -> None:
    assert rollout_progress(ClusterSnapshot()).line == "waiting for the workloads to appear"
    svc = {"kind": "Service", "metadata": {"name": "llama-8b-gateway"}, "spec": {"ports": [{"port": 80}]}}
    assert endpoint([svc], "llama-8b", "llm", None) == "http://llama-8b-gateway.llm.svc.cluster.local:80/v1"
    assert endpoint([svc], "llama-8b", "llm", "llm.example.com") == "https://llm.example.com/v1"
