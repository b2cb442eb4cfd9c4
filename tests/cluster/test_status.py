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

from .builders import (
    container,
    event,
    node,
    pod,
    status_crashloop,
    status_running,
    status_waiting,
    system_pod,
    unschedulable,
)
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


def prefetch_pod(**kwargs: Any) -> dict[str, Any]:
    labels = {
        **LABELS,
        "app.kubernetes.io/component": "prefetch",
        "batch.kubernetes.io/job-name": "llama-8b-prefetch",
        "job-name": "llama-8b-prefetch",
    }
    return pod(
        "llama-8b-prefetch-b2rww", labels=labels, containers=[container(name="prefetch", gpus=0)], **kwargs
    )


def test_wait_follows_prefetch_then_load_then_ready(api: FakeApiServer, client: KubeClient) -> None:
    api.put(prefetch_job(succeeded=0))
    api.put(prefetch_pod(node_name="gpu-1", statuses=[status_running("prefetch")]))
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


def test_prefetch_says_downloading_only_while_its_pod_runs() -> None:
    def bound(phase: str, **kwargs: Any) -> dict[str, Any]:
        p = prefetch_pod(phase=phase, **kwargs)
        p["spec"]["nodeName"] = "gpu-1"  # what the scheduler's binding writes, Pending or not
        return p

    waiting = unschedulable("0/3 nodes are available: 3 node(s) had untolerated taint(s).")
    cases = [
        ([], "prefetch: job llama-8b-prefetch waits for its pod"),
        ([prefetch_pod(phase="Pending", conditions=waiting)], "prefetch: pod llama-8b-prefetch-b2rww waits for a node"),
        ([bound("Pending")], "prefetch: pod llama-8b-prefetch-b2rww is bound to gpu-1, waiting for the node to start it"),
        ([bound("Pending", statuses=[status_waiting("prefetch", "ContainerCreating", "")])],
         "prefetch: pod llama-8b-prefetch-b2rww on gpu-1: ContainerCreating"),
        ([bound("Running", statuses=[status_running("prefetch")])],
         "prefetch: downloading and verifying the weights (pod llama-8b-prefetch-b2rww on gpu-1)"),
    ]  # fmt: skip
    for pods, line in cases:
        assert (
            rollout_progress(ClusterSnapshot(pods=pods, workloads=[prefetch_job(succeeded=0)])).line == line
        )


REAL_SCHEDULER = (
    "0/5 nodes are available: 1 Insufficient nvidia.com/gpu, 4 node(s) didn't match Pod's node affinity/selector. no "
    "new claims to deallocate, preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
)


def _unschedulable_engine(gpus: int) -> dict[str, Any]:
    return engine_pod(
        False,
        phase="Pending",
        statuses=[],
        containers=[container(gpus=gpus)],
        node_selector={"nvidia.com/gpu.product": "NVIDIA-L4"},
        conditions=unschedulable(REAL_SCHEDULER),
    )


def _clock() -> tuple[list[float], Any, Any]:
    now = [0.0]
    return now, (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + s))


def test_wait_stops_early_with_the_doctors_finding_when_a_pod_cannot_be_scheduled(
    api: FakeApiServer, client: KubeClient
) -> None:
    api.put(node("l4-1", gpus=4, product="NVIDIA-L4"))
    api.put(node("h100-1", gpus=8, product="NVIDIA-H100-80GB-HBM3"))
    api.put(deployment(ready=0))
    api.put(_unschedulable_engine(gpus=8))
    now, clock, sleep = _clock()
    seen: list[Progress] = []
    with pytest.raises(RolloutError) as info:
        wait_for_rollout(
            client, HINTS, timeout_s=1800, poll_s=5, clock=clock, sleep=sleep, on_progress=seen.append
        )
    assert now[0] == 30  # the settle time, not the 1,800 s timeout
    assert "cannot finish: DOC002 Pod/llm/llama-8b-7c9f8d6b5-x2x9k" in info.value.what
    assert "no node it may run on has more than 4" in info.value.what and "h100-1 has 8" in info.value.what
    assert seen[0].line.endswith("(unschedulable: DOC002 Pod/llm/llama-8b-7c9f8d6b5-x2x9k)")


def test_wait_keeps_waiting_while_an_autoscaler_adds_a_node(api: FakeApiServer, client: KubeClient) -> None:
    api.put(node("l4-1", gpus=4, product="NVIDIA-L4"))
    api.put(deployment(ready=0))
    api.put(_unschedulable_engine(gpus=8))
    api.put(
        event(
            "llama-8b-7c9f8d6b5-x2x9k",
            "TriggeredScaleUp",
            "pod triggered scale-up: [{https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/"
            "instanceGroups/gke-llm-l4x8-pool-1a2b3c4d-grp 0->1 (max: 4)}]",
            type_="Normal",
        )
    )
    _, clock, sleep = _clock()
    with pytest.raises(RolloutError) as info:
        wait_for_rollout(client, HINTS, timeout_s=120, poll_s=10, clock=clock, sleep=sleep)
    assert "not ready after 120 s" in info.value.what


def test_live_doctor_lists_the_gpu_stack_in_every_namespace(api: FakeApiServer, client: KubeClient) -> None:
    """A cluster-wide list must not fall back to the kubeconfig's namespace (lightkube's default for None)."""
    plugin = system_pod("nvidia-device-plugin-daemonset-x7k2p", namespace="gpu-operator", phase="Pending")
    api.put(plugin)
    api.put(node("gpu-1", gpus=0, product="NVIDIA-L4"))
    snap = gather(client, HINTS)
    assert [p["metadata"]["name"] for p in snap.pods] == ["nvidia-device-plugin-daemonset-x7k2p"]
    assert "DOC105" in {f.id for f in diagnose(snap, HINTS)}
    assert any(r.path == "/api/v1/pods" for r in api.calls("GET"))


def test_wait_does_not_fail_on_the_gpu_stack_of_a_node_the_service_does_not_use(
    api: FakeApiServer, client: KubeClient
) -> None:
    crashing = system_pod("nvidia-device-plugin-daemonset-x7k2p", namespace="gpu-operator", node_name="gpu-9")
    crashing["status"]["containerStatuses"] = [status_crashloop("nvidia-device-plugin-ctr")]
    api.put(crashing)
    api.put(deployment(ready=1))
    api.put(engine_pod(True))
    assert "DOC105" in {f.id for f in diagnose(gather(client, HINTS), HINTS)}  # the doctor still reports it
    assert wait_for_rollout(client, HINTS, timeout_s=60, sleep=lambda s: None).done
