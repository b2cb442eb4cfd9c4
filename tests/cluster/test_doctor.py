"""Doctor scenarios: each builds a cluster the way `kubectl get -o json` shows it and asserts the finding and its fix."""

from __future__ import annotations

from kubellm.cluster.doctor import diagnose, diagnose_log
from kubellm.cluster.findings import CATEGORIES, Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.snapshot import ClusterSnapshot, parse_metrics

from .builders import (
    GPU_TAINT,
    container,
    cpu_node,
    event,
    node,
    pod,
    status_crashloop,
    status_running,
    status_waiting,
    system_pod,
    unschedulable,
)

ENGINE = "llama-8b-7c9f8d6b5-x2x9k"


def only(findings: list[Finding], finding_id: str) -> Finding:
    matches = [f for f in findings if f.id == finding_id]
    assert matches, f"no {finding_id} in {[f.id for f in findings]}"
    return matches[0]


def pending(message: str, gpus: int = 1, **kwargs: object) -> tuple[dict[str, object], dict[str, object]]:
    p = pod(
        ENGINE,
        phase="Pending",
        containers=[container(gpus=gpus)],
        conditions=unschedulable(message),
        **kwargs,
    )  # type: ignore[arg-type]
    return p, event(ENGINE, "FailedScheduling", message, count=14)


# --- scheduling ---------------------------------------------------------------------------------------------


def test_pending_when_every_gpu_is_taken_says_free_or_add_gpus() -> None:
    msg = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    p, ev = pending(msg, gpus=2)
    snap = ClusterSnapshot(nodes=[node(f"gke-gpu-pool-{i}") for i in range(3)], pods=[p], events=[ev])
    finding = only(diagnose(snap), "DOC001")
    assert finding.category == "scheduling"
    assert "FailedScheduling ×14" in finding.evidence
    assert "add GPU nodes" in finding.fix and finding.spec_field == "scaling.max_replicas"


def test_pending_asking_more_gpus_than_any_node_has() -> None:
    msg = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    p, ev = pending(msg, gpus=8)
    snap = ClusterSnapshot(nodes=[node(f"n{i}", gpus=4) for i in range(3)], pods=[p], events=[ev])
    finding = only(diagnose(snap), "DOC002")
    assert "asks for 8 nvidia.com/gpu but no node it may run on has more than 4" in finding.cause
    assert finding.spec_field == "gpu.count"


def test_pending_on_untolerated_gpu_taint_adds_the_toleration() -> None:
    msg = "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 node(s) had untolerated taint {nvidia.com/gpu: present}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    p, ev = pending(msg)
    snap = ClusterSnapshot(nodes=[node(f"n{i}", taints=[GPU_TAINT]) for i in range(3)], pods=[p], events=[ev])
    taints = [f for f in diagnose(snap) if f.id == "DOC003"]
    assert any("'nvidia.com/gpu'" in f.fix for f in taints)
    assert all(f.spec_field == "placement.tolerations" for f in taints)


def test_pending_on_gpu_product_selector_names_the_products_the_cluster_has() -> None:
    msg = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    p, ev = pending(msg, node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"})
    snap = ClusterSnapshot(nodes=[node(f"n{i}") for i in range(3)], pods=[p], events=[ev])
    finding = only(diagnose(snap), "DOC004")
    assert "nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3 (nodes have: NVIDIA-A100-SXM4-80GB)" in finding.cause
    assert (
        finding.evidence.startswith("FailedScheduling") and "nodes have" not in finding.evidence
    )  # said once
    assert finding.cause.startswith("No node matches")
    assert finding.spec_field == "gpu.type"


def test_pending_on_unbound_model_cache_claim() -> None:
    msg = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    p, ev = pending(msg)
    finding = only(diagnose(ClusterSnapshot(nodes=[node("n1")], pods=[p], events=[ev])), "DOC006")
    assert finding.category == "disk" and finding.spec_field == "storage.storage_class"


def test_no_node_advertises_gpus_points_at_the_device_plugin() -> None:
    msg = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    p, ev = pending(msg)
    labelled_without_plugin = node("gpu-1", gpus=0)  # GFD labels, but no nvidia.com/gpu in allocatable
    findings = diagnose(
        ClusterSnapshot(nodes=[labelled_without_plugin, cpu_node("cpu-1")], pods=[p], events=[ev])
    )
    pod_finding = only(findings, "DOC008")  # on the pod: the GPU node it may use has no device plugin
    assert pod_finding.object.startswith("Pod/") and pod_finding.severity == "error"
    assert "gpu-1 (NVIDIA-A100-SXM4-80GB): no device-plugin pods in the snapshot" in pod_finding.evidence
    assert "device plugin" in only(findings, "DOC101").cause
    assert "DOC007" not in {f.id for f in findings}  # not "no such GPU nodes" (gpu.type)


def test_rolling_update_deadlock_on_full_gpu_nodes() -> None:
    msg = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.."
    new, ev = pending(msg, gpus=8)
    old_labels = {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": "llama-8b",
        "kubellm.dev/service": "llama-8b",
        "pod-template-hash": "5d8c7b9f4",
    }
    old = pod(
        "llama-8b-5d8c7b9f4-abcde",
        containers=[container(gpus=8)],
        statuses=[status_running()],
        labels=old_labels,
    )
    finding = only(diagnose(ClusterSnapshot(nodes=[node("n1")], pods=[old, new], events=[ev])), "DOC043")
    assert "Recreate" in finding.fix and "maxSurge: 0" in finding.fix


def test_quota_rejection_is_reported_on_the_replicaset() -> None:
    ev = event(
        "llama-8b-7c9f8d6b5",
        "FailedCreate",
        'Error creating: pods "llama-8b-7c9f8d6b5-q8w2p" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8',
        kind="ReplicaSet",
    )
    finding = only(diagnose(ClusterSnapshot(events=[ev])), "DOC015")
    assert finding.object == "ReplicaSet/llm/llama-8b-7c9f8d6b5"


# --- host memory, disk ----------------------------------------------------------------------------------


def test_oomkilled_while_loading_compares_the_limit_with_the_plan() -> None:
    statuses = [status_crashloop(restarts=4, exit_code=137, reason="OOMKilled")]
    p = pod(ENGINE, containers=[container(memory="32Gi")], statuses=statuses)
    finding = only(diagnose(ClusterSnapshot(pods=[p]), DoctorHints(host_memory_gib=96)), "DOC010")
    assert finding.category == "host-oom"
    assert "memory limit 32.0 GiB" in finding.evidence and "restarted 4×" in finding.evidence
    assert "at least 96 GiB" in finding.fix and "96 GiB" in finding.cause


def test_prefetch_init_container_oomkilled() -> None:
    init = container(name="prefetch", image="ghcr.io/kubellm/prefetch:0.1.0", gpus=0, memory="4Gi")
    init_status = status_crashloop(name="prefetch", exit_code=137, reason="OOMKilled")
    p = pod(
        ENGINE,
        phase="Pending",
        init_containers=[init],
        init_statuses=[init_status],
        statuses=[status_waiting("vllm", "PodInitializing", "")],
    )
    finding = only(diagnose(ClusterSnapshot(pods=[p])), "DOC011")
    assert "(init)" in finding.evidence and "memory limit 4.0 GiB" in finding.evidence


def test_evicted_for_ephemeral_storage_moves_weights_to_a_pvc() -> None:
    msg = "The node was low on resource: ephemeral-storage. Threshold quantity: 10120387530, available: 9166736Ki. Container llm was using 57900024Ki, request is 0, has larger consumption of ephemeral-storage. "
    p = pod(ENGINE, phase="Failed", reason="Evicted", message=msg, statuses=[])
    finding = only(diagnose(ClusterSnapshot(pods=[p])), "DOC012")
    assert finding.category == "disk" and finding.spec_field == "storage.model_cache"


# --- probes ----------------------------------------------------------------------------------------------


STARTUP = {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 10, "failureThreshold": 30}
DOWNLOAD_LOG = """INFO 11-27 21:14:40 [__init__.py:241] Automatically detected platform cuda.
(APIServer pid=1) INFO 11-27 21:14:44 [api_server.py:1805] vLLM API server version 0.10.1.1
(EngineCore_0 pid=270) INFO 11-27 21:15:02 [gpu_model_runner.py:1953] Starting to load model meta-llama/Llama-3.1-70B-Instruct...
(EngineCore_0 pid=270) INFO 11-27 21:15:03 [weight_utils.py:296] Using model weights format ['*.safetensors']
model-00007-of-00030.safetensors:  41%|████      | 2.03G/4.97G [04:11<06:02, 8.1MB/s]
"""


def test_startup_probe_kills_engine_during_download() -> None:
    p = pod(
        ENGINE,
        containers=[container(startup_probe=STARTUP)],
        statuses=[status_crashloop(exit_code=137, reason="Error")],
    )
    events = [
        event(
            ENGINE,
            "Unhealthy",
            'Startup probe failed: Get "http://10.8.3.17:8000/health": dial tcp 10.8.3.17:8000: connect: connection refused',
            count=30,
        ),
        event(
            ENGINE,
            "Killing",
            "Container vllm failed startup probe, will be restarted",
            count=3,
            type_="Normal",
        ),
    ]
    snap = ClusterSnapshot(pods=[p], events=events, logs={f"llm/{ENGINE}/vllm": DOWNLOAD_LOG})
    finding = only(diagnose(snap, DoctorHints(startup_budget_s=1800)), "DOC020")
    assert finding.category == "probe"
    assert "still downloading" in finding.evidence and "startup probe budget 300 s" in finding.evidence
    assert "≥ 1800 s" in finding.fix


def test_liveness_without_startup_probe_kills_during_load() -> None:
    liveness = {
        "httpGet": {"path": "/health", "port": 8000},
        "initialDelaySeconds": 120,
        "periodSeconds": 10,
        "failureThreshold": 3,
    }
    p = pod(
        ENGINE, containers=[container(liveness_probe=liveness)], statuses=[status_crashloop(exit_code=137)]
    )
    events = [
        event(
            ENGINE,
            "Killing",
            "Container vllm failed liveness probe, will be restarted",
            count=6,
            type_="Normal",
        )
    ]
    log = "INFO [default_loader.py:262] Loading weights took 38.21 seconds\nLoading safetensors checkpoint shards:  60% Completed | 18/30 [02:31<01:40]\nKeyboardInterrupt: terminated\n"
    snap = ClusterSnapshot(pods=[p], events=events, logs={f"llm/{ENGINE}/vllm": log})
    findings = diagnose(snap)
    finding = only(findings, "DOC021")
    assert "loading the weights" in finding.cause and "startupProbe" in finding.fix
    assert only(findings, "SIG022").category == "probe"


def test_liveness_kill_under_load_asks_for_longer_timeouts() -> None:
    liveness = {
        "httpGet": {"path": "/health", "port": 8000},
        "timeoutSeconds": 1,
        "periodSeconds": 5,
        "failureThreshold": 3,
    }
    c = container(startup_probe=STARTUP, liveness_probe=liveness)
    p = pod(ENGINE, containers=[c], statuses=[status_running(restarts=2)])
    events = [
        event(
            ENGINE,
            "Killing",
            "Container vllm failed liveness probe, will be restarted",
            count=2,
            type_="Normal",
        )
    ]
    log = 'INFO:     Application startup complete.\nINFO:     10.8.1.4:51234 - "POST /v1/chat/completions HTTP/1.1" 200 OK\n'
    finding = only(
        diagnose(ClusterSnapshot(pods=[p], events=events, logs={f"llm/{ENGINE}/vllm": log})), "DOC022"
    )
    assert "timeoutSeconds ≥ 5" in finding.fix


# --- crash loops with engine logs --------------------------------------------------------------------------


def crashing(log: str, **kwargs: object) -> ClusterSnapshot:
    p = pod(ENGINE, statuses=[status_crashloop()], **kwargs)  # type: ignore[arg-type]
    return ClusterSnapshot(pods=[p], logs={f"llm/{ENGINE}/vllm": log})


def test_nccl_shm_failure_with_tensor_parallel() -> None:
    log = "(VllmWorker rank=1 pid=312) ERROR torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp:317, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5\nncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error.\nLast error:\nError while creating shared memory segment /dev/shm/nccl-F9ffgB (size 9637888)\n"
    findings = diagnose(crashing(log))
    finding = only(findings, "SIG001")
    assert finding.category == "shm" and "/dev/shm" in finding.fix
    assert "SIG020" not in {f.id for f in findings}


def test_cuda_driver_too_old_is_found_in_the_log_and_on_the_node() -> None:
    log = "RuntimeError: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling NumCudaDevices() that might have already set an error? Error 35: CUDA driver version is insufficient for CUDA runtime version\n"
    snap = crashing(log)
    snap.nodes = [node("gke-gpu-pool-1", driver=(535, 183))]
    findings = diagnose(snap)
    assert only(findings, "SIG005").category == "driver"
    node_finding = only(findings, "DOC107")
    assert "driver 535.183" in node_finding.evidence and "CUDA 12.8" in node_finding.evidence
    assert "≥ 570" in node_finding.fix


def test_bf16_on_t4() -> None:
    log = "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5. You can use float16 instead by explicitly setting the`dtype` flag in CLI, for example: --dtype=half.\n"
    finding = only(diagnose(crashing(log)), "SIG012")
    assert finding.category == "dtype" and finding.spec_field == "model.dtype"


def test_max_model_len_larger_than_kv_cache() -> None:
    log = "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be stored in KV cache (3664). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.\n"
    finding = only(diagnose(crashing(log)), "SIG008")
    assert finding.category == "kv-cache" and finding.spec_field == "serving.max_model_len"


def test_gated_model_without_token() -> None:
    log = "huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-6747a1b2-3c4d)\nCannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/resolve/main/config.json.\nAccess to model meta-llama/Llama-3.1-8B-Instruct is restricted. You must have access to it and be authenticated to access it. Please log in.\n"
    finding = only(diagnose(crashing(log)), "SIG017")
    assert finding.category == "model-access" and finding.spec_field == "security.hf_token_secret"


def test_service_named_vllm_breaks_vllm_port() -> None:
    log = "ValueError: VLLM_PORT 'tcp://169.169.193.120:6785' appears to be a URI. This may be caused by a Kubernetes service discovery issue, check the warning in: https://docs.vllm.ai/en/stable/serving/env_vars.html\n"
    finding = only(diagnose(crashing(log)), "SIG014")
    assert "enableServiceLinks: false" in finding.fix


def test_time_sliced_gpu_with_default_memory_utilization() -> None:
    log = "ValueError: Free memory on device (0.49/79.32 GiB) on startup is less than desired GPU memory utilization (0.9, 71.39 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.\n"
    finding = only(diagnose(crashing(log)), "SIG010")
    assert finding.category == "gpu-oom" and finding.spec_field == "gpu.memory_utilization"


def test_crash_loop_without_a_known_signature_points_at_the_log() -> None:
    finding = only(
        diagnose(crashing('Traceback (most recent call last):\n  File "x.py", line 1\nSomeNewError: boom\n')),
        "DOC037",
    )
    assert finding.severity == "warning" and "--previous" in finding.fix


def test_generic_engine_failure_only_when_nothing_specific_matched() -> None:
    log = "ERROR Engine core initialization failed. See root cause above. Failed core proc(s): {}\n"
    assert [f.id for f in diagnose_log(log)] == ["SIG028"]
    log_with_cause = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.96 GiB.\n" + log
    assert [f.id for f in diagnose_log(log_with_cause)] == ["SIG011"]


# --- images, config, runtime --------------------------------------------------------------------------------


def test_image_tag_that_does_not_exist() -> None:
    msg = 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/vllm/vllm-openai:v0.10.11": failed to resolve reference "docker.io/vllm/vllm-openai:v0.10.11": docker.io/vllm/vllm-openai:v0.10.11: not found'
    p = pod(
        ENGINE,
        phase="Pending",
        statuses=[
            status_waiting("vllm", "ImagePullBackOff", 'Back-off pulling image "vllm/vllm-openai:v0.10.11"')
        ],
    )
    ev = event(ENGINE, "Failed", f'Failed to pull image "vllm/vllm-openai:v0.10.11": {msg}')
    finding = only(diagnose(ClusterSnapshot(pods=[p], events=[ev])), "DOC030")
    assert finding.category == "image" and finding.spec_field == "engine.image"


def test_docker_hub_rate_limit() -> None:
    msg = 'failed to pull and unpack image "docker.io/vllm/vllm-openai:v0.10.1.1": 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.'
    p = pod(ENGINE, phase="Pending", statuses=[status_waiting("vllm", "ErrImagePull", msg)])
    assert "Mirror" in only(diagnose(ClusterSnapshot(pods=[p])), "DOC032").fix


def test_missing_hf_token_secret() -> None:
    p = pod(
        ENGINE,
        phase="Pending",
        statuses=[status_waiting("vllm", "CreateContainerConfigError", 'secret "hf-token" not found')],
    )
    finding = only(diagnose(ClusterSnapshot(pods=[p])), "DOC033")
    assert "kubectl create secret generic hf-token" in finding.fix and finding.category == "model-access"


def test_container_toolkit_refuses_image_for_newer_cuda() -> None:
    msg = "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container: unknown"
    p = pod(ENGINE, statuses=[status_waiting("vllm", "RunContainerError", msg)])
    finding = only(diagnose(ClusterSnapshot(pods=[p])), "DOC035")
    assert finding.category == "driver" and "CUDA ≥ 12.8" in finding.cause


def test_runtime_class_missing() -> None:
    ev = event(
        "llama-8b-7c9f8d6b5",
        "FailedCreate",
        'Error creating: pods "llama-8b-7c9f8d6b5-" is forbidden: pod rejected: RuntimeClass "nvidia" not found',
        kind="ReplicaSet",
    )
    snap = ClusterSnapshot(events=[ev], runtime_classes=[])
    findings = diagnose(snap, DoctorHints(runtime_class="nvidia"))
    assert {f.id for f in findings} >= {"DOC108"}
    assert all(f.spec_field == "gpu.runtime_class" for f in findings if f.id == "DOC108")


def test_sandbox_without_nvidia_runtime_handler() -> None:
    p = pod(
        ENGINE,
        phase="Pending",
        runtime_class="nvidia",
        statuses=[status_waiting("vllm", "ContainerCreating", "")],
    )
    ev = event(
        ENGINE,
        "FailedCreatePodSandBox",
        'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "nvidia" is configured',
    )
    finding = only(diagnose(ClusterSnapshot(pods=[p], events=[ev])), "DOC036")
    assert "container toolkit" in finding.fix


# --- cluster readiness -----------------------------------------------------------------------------------------


def test_device_plugin_crashlooping() -> None:
    dp = system_pod(
        "nvidia-device-plugin-daemonset-7xk2p",
        statuses=[status_crashloop(name="nvidia-device-plugin", restarts=12)],
    )
    finding = only(diagnose(ClusterSnapshot(nodes=[node("n1")], pods=[dp])), "DOC105")
    assert "nvidia-device-plugin" in finding.cause and "CrashLoopBackOff" in finding.evidence


def test_unhealthy_gpus_reduce_allocatable() -> None:
    finding = only(diagnose(ClusterSnapshot(nodes=[node("n1", gpus=8, allocatable_gpus=7)])), "DOC102")
    assert "capacity 8, allocatable 7" in finding.evidence and finding.category == "driver"


def test_no_gpu_nodes_at_all() -> None:
    finding = only(diagnose(ClusterSnapshot(nodes=[cpu_node("cpu-1"), cpu_node("cpu-2")])), "DOC100")
    assert "GPU node pool" in finding.fix


def test_keda_missing_when_the_spec_scales_with_keda() -> None:
    snap = ClusterSnapshot(
        nodes=[node("n1")], api_versions={"v1", "apps/v1", "autoscaling/v2", "monitoring.coreos.com/v1"}
    )
    finding = only(diagnose(snap, DoctorHints(autoscaler="keda")), "DOC109")
    assert "KEDA is not installed" in finding.cause and "scaling.autoscaler: hpa" in finding.fix


def test_mig_profile_not_offered() -> None:
    snap = ClusterSnapshot(nodes=[node("n1")])
    finding = only(diagnose(snap, DoctorHints(gpu_resource="nvidia.com/mig-3g.40gb")), "DOC111")
    assert "nvidia.com/gpu" in finding.evidence


def test_healthy_gpu_cluster_has_no_errors() -> None:
    dp = system_pod("nvidia-device-plugin-daemonset-7xk2p", statuses=[status_running("nvidia-device-plugin")])
    engine = pod(ENGINE, statuses=[status_running()])
    findings = diagnose(ClusterSnapshot(nodes=[node("n1")], pods=[dp, engine], runtime_classes=[]))
    assert [f for f in findings if f.severity == "error"] == []


# --- performance -----------------------------------------------------------------------------------------------

METRICS_IDLE_GPU_QUEUE = """# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct",namespace="llm"} 37.0
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct",namespace="llm"} 16.0
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct",namespace="llm"} 0.21
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-5c1e",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="n1",container="vllm",namespace="llm",pod="llama-8b-7c9f8d6b5-x2x9k"} 23
"""


def test_queue_with_idle_gpus_points_at_max_num_seqs() -> None:
    c = container(args=["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-num-seqs", "16"])
    snap = ClusterSnapshot(
        pods=[pod(ENGINE, containers=[c], statuses=[status_running()])],
        metrics=parse_metrics(METRICS_IDLE_GPU_QUEUE),
    )
    finding = only(diagnose(snap), "DOC040")
    assert "--max-num-seqs 16" in finding.evidence and finding.spec_field == "serving.max_num_seqs"


def test_full_kv_cache_with_queue_asks_for_replicas() -> None:
    text = METRICS_IDLE_GPU_QUEUE.replace("} 0.21", "} 0.97").replace("} 23", "} 96")
    finding = only(diagnose(ClusterSnapshot(metrics=parse_metrics(text))), "DOC041")
    assert finding.category == "kv-cache" and "97%" in finding.evidence


def test_every_finding_uses_a_known_category() -> None:
    log = "No space left on device\nCUDA error: out of memory\nRepositoryNotFoundError: 404 Client Error.\n"
    findings = diagnose(crashing(log))
    assert {f.id for f in findings} >= {"SIG020", "SIG011", "SIG018"}
    assert all(f.category in CATEGORIES for f in findings)


# --- more scenarios ----------------------------------------------------------------------------------------


def test_pending_for_host_memory_on_gpu_nodes() -> None:
    msg = "0/2 nodes are available: 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    p, ev = pending(msg)
    finding = only(diagnose(ClusterSnapshot(nodes=[node("n1"), node("n2")], pods=[p], events=[ev])), "DOC005")
    assert "memory" in finding.cause


def test_pending_on_a_placement_label_no_node_has() -> None:
    msg = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    p, ev = pending(
        msg,
        node_selector={
            "cloud.google.com/gke-spot": "true",
            "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
        },
    )
    finding = only(diagnose(ClusterSnapshot(nodes=[node("n1"), node("n2")], pods=[p], events=[ev])), "DOC004")
    assert "cloud.google.com/gke-spot=true (nodes have: no such label)" in finding.cause
    assert "NVIDIA-A100" not in finding.cause  # the GPU product term is satisfied


def test_mig_slice_nobody_advertises_from_an_events_k8s_io_event() -> None:
    msg = "0/1 nodes are available: 1 Insufficient nvidia.com/mig-3g.40gb."
    p = pod(
        ENGINE,
        phase="Pending",
        containers=[container(resource="nvidia.com/mig-3g.40gb")],
        conditions=unschedulable(msg),
    )
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{ENGINE}.181a", "namespace": "llm"},
        "regarding": {"kind": "Pod", "name": ENGINE, "namespace": "llm"},
        "reason": "FailedScheduling",
        "note": msg,
        "type": "Warning",
        "series": {"count": 9},
    }
    findings = diagnose(
        ClusterSnapshot(nodes=[node("n1")], pods=[p], events=[ev]),
        DoctorHints(gpu_resource="nvidia.com/mig-3g.40gb"),
    )
    assert "FailedScheduling ×9" in only(findings, "DOC007").evidence
    assert only(findings, "DOC111").spec_field == "gpu.mig_profile"


def test_evicted_for_node_memory_pressure() -> None:
    p = pod(
        ENGINE,
        phase="Failed",
        reason="Evicted",
        message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 91136Ki. Container vllm was using 61203456Ki, request is 16Gi, has larger consumption of memory. ",
        statuses=[],
    )
    assert "Guaranteed" in only(diagnose(ClusterSnapshot(pods=[p])), "DOC013").fix


def test_image_filesystem_full_while_pulling() -> None:
    msg = 'failed to pull and unpack image "docker.io/vllm/vllm-openai:v0.10.1.1": failed to extract layer sha256:3f1e: write /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/412/fs/usr/local/lib/python3.12/dist-packages/torch/lib/libtorch_cuda.so: no space left on device: unknown'
    p = pod(ENGINE, phase="Pending", statuses=[status_waiting("vllm", "ErrImagePull", msg)])
    assert only(diagnose(ClusterSnapshot(pods=[p])), "DOC014").category == "disk"


def test_private_image_without_pull_secret() -> None:
    msg = 'failed to pull and unpack image "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3": failed to resolve reference "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials'
    p = pod(ENGINE, phase="Pending", statuses=[status_waiting("vllm", "ErrImagePull", msg)])
    assert "imagePullSecrets" in only(diagnose(ClusterSnapshot(pods=[p])), "DOC031").fix


def test_run_as_non_root_with_a_root_image() -> None:
    p = pod(
        ENGINE,
        phase="Pending",
        statuses=[
            status_waiting(
                "vllm",
                "CreateContainerConfigError",
                'container has runAsNonRoot and image will run as root (pod: "llama-8b-7c9f8d6b5-x2x9k_llm(6f1c)", container: vllm)',
            )
        ],
    )
    assert only(diagnose(ClusterSnapshot(pods=[p])), "DOC034").spec_field == "security.run_as_user"


def test_not_ready_gpu_node_and_missing_feature_discovery() -> None:
    findings = diagnose(
        ClusterSnapshot(nodes=[node("n1", ready=False), node("n2", product=None), node("n3", product=None)])
    )
    assert only(findings, "DOC103").object == "Node/n1"
    gfd = only(findings, "DOC104")
    assert gfd.object == "Node/n2 (+1 more)" and "2 of 3 GPU node(s)" in gfd.evidence


def test_cluster_without_dcgm_exporter() -> None:
    kube_proxy = pod(
        "kube-proxy-n1",
        namespace="kube-system",
        containers=[container(name="kube-proxy", gpus=0)],
        labels={"k8s-app": "kube-proxy"},
    )
    finding = only(diagnose(ClusterSnapshot(nodes=[node("n1")], pods=[kube_proxy])), "DOC106")
    assert "dcgmExporter.enabled=true" in finding.fix


def test_hpa_without_a_metrics_adapter() -> None:
    snap = ClusterSnapshot(nodes=[node("n1")], api_versions={"v1", "apps/v1", "autoscaling/v2"})
    assert "Prometheus Adapter" in only(diagnose(snap, DoctorHints(autoscaler="hpa")), "DOC110").fix


def test_hugging_face_unreachable_behind_a_network_policy() -> None:
    log = "requests.exceptions.ConnectionError: (MaxRetryError(\"HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: /api/models/meta-llama/Llama-3.1-8B-Instruct/revision/main (Caused by NameResolutionError(\\\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve 'huggingface.co' ([Errno -3] Temporary failure in name resolution)\\\"))\"), '(Request ID: 5c1e)')\n"
    finding = only(diagnose(crashing(log)), "SIG021")
    assert finding.category == "network" and finding.spec_field == "security.egress_cidrs"


def test_idle_replicas_suggest_scaling_down() -> None:
    text = METRICS_IDLE_GPU_QUEUE.replace("} 37.0", "} 0").replace("} 16.0", "} 0").replace("} 23", "} 0")
    finding = only(diagnose(ClusterSnapshot(metrics=parse_metrics(text))), "DOC042")
    assert finding.severity == "info" and finding.spec_field == "scaling.min_replicas"


def test_scope_keeps_other_namespaces_out() -> None:
    other = pod(
        "other-7c9f8d6b5-aaaaa", namespace="team-b", statuses=[status_crashloop()], labels={"app": "other"}
    )
    snap = ClusterSnapshot(
        pods=[other], logs={"team-b/other-7c9f8d6b5-aaaaa/vllm": "CUDA error: out of memory"}
    )
    assert diagnose(snap, DoctorHints(namespace="llm", service="llama-8b")) == []
    assert only(diagnose(snap), "SIG011").object == "Pod/team-b/other-7c9f8d6b5-aaaaa"


def test_service_scope_does_not_take_a_longer_named_service() -> None:
    other_labels = {"app.kubernetes.io/instance": "llama-8b-instruct", "pod-template-hash": "5d8c7b9f4"}
    other = pod("llama-8b-instruct-5d8c7b9f4-abcde", statuses=[status_crashloop()], labels=other_labels)
    hand_made = pod("llama-8b-debug", statuses=[status_crashloop()], labels={"app": "debug"})
    logs = {
        "llm/llama-8b-instruct-5d8c7b9f4-abcde/vllm": "CUDA error: out of memory",
        "llm/llama-8b-debug/vllm": "CUDA error: out of memory",
    }
    findings = diagnose(
        ClusterSnapshot(pods=[other, hand_made], logs=logs), DoctorHints(namespace="llm", service="llama-8b")
    )
    assert {f.object for f in findings} == {"Pod/llm/llama-8b-debug"}


def test_logs_of_a_pod_without_container_statuses_are_read() -> None:
    p = pod(ENGINE, phase="Pending", statuses=None)
    snap = ClusterSnapshot(
        pods=[p],
        logs={
            f"llm/{ENGINE}/vllm": "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0."
        },
    )
    assert only(diagnose(snap), "SIG012").object == f"Pod/llm/{ENGINE}"


def test_pending_on_the_rendered_gpu_affinity_names_the_products_nodes_have() -> None:
    msg = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    p, ev = pending(msg)
    p["spec"]["affinity"] = {  # what kubellm renders for gpu.type L4, spot avoided
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]},
                            {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]},
                        ]
                    }
                ]
            }
        }
    }
    finding = only(
        diagnose(ClusterSnapshot(nodes=[node(f"n{i}") for i in range(3)], pods=[p], events=[ev])), "DOC004"
    )
    assert "nvidia.com/gpu.product In [NVIDIA-L4] (nodes have: NVIDIA-A100-SXM4-80GB)" in finding.cause
    assert "gke-spot" not in finding.cause  # NotIn is met by every node
    assert finding.spec_field == "gpu.type"
    p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"][0]["values"] = ["NVIDIA-A100-SXM4-80GB"]
    assert not [
        f for f in diagnose(ClusterSnapshot(nodes=[node("n1")], pods=[p], events=[ev])) if f.id == "DOC004"
    ]


def test_readiness_against_the_spec_gpu_type_and_count() -> None:
    snap = ClusterSnapshot(nodes=[node("n1", gpus=4), node("n2", gpus=4)])
    hints = DoctorHints(
        gpu_resource="nvidia.com/gpu", gpus_per_pod=8, gpu_products=("NVIDIA-H100-80GB-HBM3",)
    )
    findings = diagnose(snap, hints)
    assert "GPU nodes have: NVIDIA-A100-SXM4-80GB" in only(findings, "DOC113").evidence
    assert "the largest node has 4" in only(findings, "DOC112").evidence
    fitting = DoctorHints(
        gpu_resource="nvidia.com/gpu", gpus_per_pod=4, gpu_products=("NVIDIA-A100-SXM4-80GB",)
    )
    assert diagnose(snap, fitting) == []
