"""Hardening every rendered engine workload carries, checked over all examples."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from render_helpers import (
    SERVICE_EXAMPLES,
    engine_container,
    find,
    plan_of,
    pod_specs,
    render_example,
    render_spec,
    spec_of,
)

from kubellm.render import images
from kubellm.spec import load_spec

IDS = [p.stem for p in SERVICE_EXAMPLES]
WORKLOADS = ("Deployment", "StatefulSet", "LeaderWorkerSet")
SHARED = {"access_mode": "ReadWriteMany", "storage_class": "shared-rwx"}


def _workload(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] in WORKLOADS and o["metadata"]["name"]
                == o["metadata"]["labels"]["app.kubernetes.io/instance"])  # fmt: skip


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
def test_gpu_requests_equal_limits_and_match_the_plan(example: Path) -> None:
    plan = plan_of(load_spec(example))
    container = engine_container(_workload(render_example(example)))
    res = container["resources"]
    assert res["requests"] == res["limits"]
    if plan.resources.gpu_count:
        assert res["limits"][plan.resources.gpu_resource] == str(plan.resources.gpu_count)
    else:
        assert not any(k.startswith("nvidia.com/") for k in res["limits"])


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
def test_pods_are_non_root_read_only_and_tokenless(example: Path) -> None:
    objects = render_example(example)
    for obj in objects:
        if obj["kind"] not in (*WORKLOADS, "Job"):
            continue
        for pod in pod_specs(obj) if obj["kind"] != "Job" else [obj["spec"]["template"]["spec"]]:
            assert pod["automountServiceAccountToken"] is False
            assert pod["enableServiceLinks"] is False
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            for c in pod["containers"] + pod.get("initContainers", []):
                sc = c["securityContext"]
                assert sc["readOnlyRootFilesystem"] is True
                assert sc["allowPrivilegeEscalation"] is False
                assert sc["capabilities"] == {"drop": ["ALL"]}
    assert find(objects, "ServiceAccount")["automountServiceAccountToken"] is False


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
def test_rollout_never_waits_for_gpus_the_old_pod_holds(example: Path) -> None:
    workload = _workload(render_example(example))
    if workload["kind"] == "StatefulSet":
        # A StatefulSet replaces pod by pod and never surges; pods start in parallel on scale-up.
        assert workload["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
        assert workload["spec"]["podManagementPolicy"] == "Parallel"
        return
    strategy = workload["spec"].get("strategy") or workload["spec"]["rolloutStrategy"]
    rolling = strategy.get("rollingUpdate") or strategy["rollingUpdateConfiguration"]
    assert rolling["maxSurge"] == 0


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
def test_probes_use_the_plan_budget_and_patient_liveness(example: Path) -> None:
    plan = plan_of(load_spec(example))
    c = engine_container(_workload(render_example(example)))
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= plan.probes.startup_budget_s
    assert c["livenessProbe"]["timeoutSeconds"] >= 5
    assert c["readinessProbe"]["httpGet"]["path"] in ("/v1/models", "/health", "/v2/health/ready")
    assert "initialDelaySeconds" not in c["livenessProbe"]


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
def test_hf_token_only_from_a_secret(example: Path) -> None:
    objects = render_example(example)
    text = str(objects)
    for obj in objects:
        for pod in pod_specs(obj) if obj["kind"] in WORKLOADS else []:
            for c in pod["containers"] + pod.get("initContainers", []):
                for env in c.get("env", []):
                    if "TOKEN" in env["name"]:
                        assert "valueFrom" in env and "secretKeyRef" in env["valueFrom"], env
    assert "hf_" not in text


@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=IDS)
def test_every_image_is_pinned(example: Path) -> None:
    for image in images(render_example(example)):
        tag = image.rsplit("/", 1)[-1]
        assert "@sha256:" in image or (":" in tag and not tag.endswith(":latest")), image


def test_shm_is_memory_backed_and_sized_by_the_plan_when_tp_above_one() -> None:
    spec = spec_of(model={"source": "hf://meta-llama/Llama-3.3-70B-Instruct", "quantization": "fp8"},
                   gpu={"type": "H100-SXM-80GB", "count": 2})  # fmt: skip
    plan = plan_of(spec)
    objects = render_spec(spec)
    pod = pod_specs(_workload(objects))[0]
    dshm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert dshm["emptyDir"] == {"medium": "Memory", "sizeLimit": f"{plan.resources.shm_gib:g}Gi"}
    mounts = {m["mountPath"] for m in engine_container(_workload(objects))["volumeMounts"]}
    assert "/dev/shm" in mounts
    memory = engine_container(_workload(objects))["resources"]["limits"]["memory"]
    assert memory == f"{math.ceil(plan.resources.memory_gib + plan.resources.shm_gib)}Gi"


def test_no_shm_volume_on_one_gpu() -> None:
    pod = pod_specs(_workload(render_spec(spec_of())))[0]
    assert all(v["name"] != "dshm" for v in pod["volumes"])


def test_node_affinity_uses_the_gfd_product_label_and_tolerates_the_gpu_taint() -> None:
    pod = pod_specs(_workload(render_spec(spec_of())))[0]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]
    assert {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]} in term[
        "matchExpressions"
    ]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_time_sliced_gpus_also_match_the_shared_product_label() -> None:
    spec = spec_of(
        model={"source": "hf://meta-llama/Llama-3.2-1B-Instruct", "name": "Llama-3.2-1B"},
        gpu={"type": "L4", "sharing": "time-slicing", "memory_utilization": 0.45},
    )
    pod = pod_specs(_workload(render_spec(spec)))[0]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]
    assert term["matchExpressions"][0]["values"] == ["NVIDIA-L4", "NVIDIA-L4-SHARED"]


def test_spot_required_puts_each_cloud_label_in_its_own_term_and_tolerates_spot_taints() -> None:
    pod = pod_specs(_workload(render_spec(spec_of(placement={"spot": "require"}))))[0]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    spot_keys = {
        "cloud.google.com/gke-spot", "cloud.google.com/gke-preemptible", "eks.amazonaws.com/capacityType",
        "karpenter.sh/capacity-type", "kubernetes.azure.com/scalesetpriority",
    }  # fmt: skip
    # generic: (GFD | GKE accelerator | instance type) × each cloud's spot label, one term each
    assert len(terms) == 3 * len(spot_keys)
    for term in terms:
        assert len([e for e in term["matchExpressions"] if e["key"] in spot_keys]) == 1
    assert any(t.get("key") == "cloud.google.com/gke-spot" for t in pod["tolerations"])


def test_runtime_class_and_priority_class_are_passed_through() -> None:
    spec = spec_of(gpu={"type": "L4", "runtime_class": "nvidia"}, placement={"priority_class": "llm-high"})
    pod = pod_specs(_workload(render_spec(spec)))[0]
    assert pod["runtimeClassName"] == "nvidia" and pod["priorityClassName"] == "llm-high"


def test_cpu_pods_ask_for_no_gpu_and_do_not_tolerate_the_gpu_taint() -> None:
    spec = spec_of(
        model={"source": "hf://microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf",
               "name": "Phi-3-mini-4k", "quantization": "gguf"},
        engine={"name": "llamacpp"},
        gpu={"type": "cpu"},
    )  # fmt: skip
    objects = render_spec(spec)
    pod = pod_specs(_workload(objects))[0]
    assert "nvidia.com/gpu.product" not in str(pod.get("affinity"))
    assert all(t["key"] != "nvidia.com/gpu" for t in pod.get("tolerations", []))
    c = engine_container(_workload(objects))
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in c["env"]
    assert c["args"][c["args"].index("--n-gpu-layers") + 1] == "0"
    assert all(o["kind"] != "ResourceQuota" for o in objects)


def test_caches_point_at_writable_volumes() -> None:
    c = engine_container(_workload(render_spec(spec_of())))
    env = {e["name"]: e.get("value") for e in c["env"]}
    writable = [m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")]
    for key in ("HOME", "HF_HOME", "XDG_CACHE_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        assert any(env[key].startswith(p) for p in writable), key
    assert env["HF_HUB_OFFLINE"] == "1"


def test_prefetch_job_and_replicas_wait_for_the_verified_marker() -> None:
    objects = render_spec(
        spec_of(
            model={"source": "hf://meta-llama/Llama-3.1-8B-Instruct", "revision": "abc123"}, storage=SHARED
        )
    )
    job = find(objects, "Job", "svc-prefetch")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBELLM_REPO"] == "meta-llama/Llama-3.1-8B-Instruct" and env["KUBELLM_REVISION"] == "abc123"
    init = pod_specs(_workload(objects))[0]["initContainers"][0]
    assert init["name"] == "wait-for-model"
    assert init["args"] == ["/models/hf/meta-llama/Llama-3.1-8B-Instruct/abc123"]
    assert (
        engine_container(_workload(objects))["args"][0]
        == "/models/hf/meta-llama/Llama-3.1-8B-Instruct/abc123"
    )


def test_without_a_shared_cache_each_pod_downloads_in_an_init_container() -> None:
    objects = render_spec(spec_of(storage={"model_cache": "none"}))
    assert all(o["kind"] != "PersistentVolumeClaim" for o in objects)
    pod = pod_specs(_workload(objects))[0]
    assert pod["initContainers"][0]["name"] == "prefetch"
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert "emptyDir" in models and models["emptyDir"]["sizeLimit"].endswith("Gi")


def test_autoscaled_workloads_leave_the_replica_count_to_the_autoscaler() -> None:
    objects = render_spec(spec_of(scaling={"min_replicas": 1, "max_replicas": 3}))
    assert "replicas" not in _workload(objects)["spec"]
    fixed = render_spec(spec_of(scaling={"min_replicas": 2, "max_replicas": 2}))
    assert _workload(fixed)["spec"]["replicas"] == 2
    assert all(o["kind"] not in ("ScaledObject", "HorizontalPodAutoscaler") for o in fixed)


def test_pvc_source_mounts_the_existing_claim_and_downloads_nothing() -> None:
    objects = render_spec(spec_of(model={"source": "pvc://weights/llama-3.1-8b", "name": "Llama-3.1-8B"}))
    assert all(o["kind"] not in ("Job", "PersistentVolumeClaim") for o in objects)
    pod = pod_specs(_workload(objects))[0]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["persistentVolumeClaim"] == {"claimName": "weights", "readOnly": True}
    assert "initContainers" not in pod
    assert engine_container(_workload(objects))["args"][0] == "/models/llama-3.1-8b"
    assert all(o["metadata"]["name"] != "svc-model-download" for o in objects)


def test_host_path_cache_downloads_per_node_and_relaxes_pod_security_enforcement() -> None:
    objects = render_spec(spec_of(storage={"model_cache": "hostPath", "host_path": "/mnt/models"}))
    pod = pod_specs(_workload(objects))[0]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["hostPath"] == {"path": "/mnt/models", "type": "DirectoryOrCreate"}
    assert pod["initContainers"][0]["name"] == "prefetch"
    labels = find(objects, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_default_cache_is_a_claim_per_replica_filled_by_each_pod() -> None:
    objects = render_spec(
        spec_of(model={"source": "hf://meta-llama/Llama-3.1-8B-Instruct", "revision": "abc"})
    )
    assert all(o["kind"] not in ("PersistentVolumeClaim", "Job") for o in objects)
    sts = _workload(objects)
    assert sts["kind"] == "StatefulSet"
    assert sts["spec"]["serviceName"] == find(objects, "Service", "svc-engine")["metadata"]["name"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "models"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert (
        claim["spec"]["resources"]["requests"]["storage"]
        == f"{plan_of(spec_of()).resources.model_cache_gib}Gi"
    )
    assert "storageClassName" not in claim["spec"]  # the cluster's default (block) class binds RWO
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    pod = pod_specs(sts)[0]
    assert pod["initContainers"][0]["name"] == "prefetch"
    assert all(v["name"] != "models" for v in pod["volumes"])  # the claim template provides it
    download = find(objects, "NetworkPolicy", "svc-model-download")
    assert download["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "engine"


def test_multi_node_replicas_keep_a_claim_per_pod() -> None:
    spec = spec_of(
        model={
            "source": "hf://meta-llama/Llama-3.1-405B-Instruct-FP8",
            "name": "Llama-3.1-405B",
            "quantization": "fp8",
        },
        gpu={"type": "H100-SXM-80GB", "count": 16, "nodes": 2},
    )
    lws = _workload(render_spec(spec))
    assert lws["kind"] == "LeaderWorkerSet"
    template = lws["spec"]["leaderWorkerTemplate"]
    assert template["volumeClaimTemplates"][0]["metadata"]["name"] == "models"
    assert template["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
