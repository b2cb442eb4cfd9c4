"""Engine adapters: planned arguments, served name, metrics, and engine-specific objects."""

from __future__ import annotations

from typing import Any

from render_helpers import engine_container, find, plan_of, pod_specs, render_spec, spec_of, workload

from kubellm.render.engines import ADAPTERS


def _engine(objects: list[dict[str, Any]], name: str = "svc") -> dict[str, Any]:
    return engine_container(workload(objects, name))


def test_vllm_gets_every_planned_argument_the_served_name_and_no_request_logs() -> None:
    spec = spec_of(model={"source": "hf://meta-llama/Llama-3.1-8B-Instruct", "served_name": "llama"})
    plan = plan_of(spec)
    c = _engine(render_spec(spec))
    args = c["args"]
    assert c["command"] == ["vllm", "serve"]
    for flag in plan.engine_args:
        assert flag in args
    assert args[args.index("--served-model-name") + 1] == "llama"
    assert "--enable-prefix-caching" in args
    assert "--enable-log-requests" not in args


def test_vllm_logs_requests_only_when_asked_and_honours_prefix_caching_off() -> None:
    args = _engine(
        render_spec(spec_of(observability={"log_requests": True}, serving={"prefix_caching": False}))
    )["args"]
    assert "--enable-log-requests" in args and "--no-enable-prefix-caching" in args


def test_extra_args_come_after_the_planned_ones() -> None:
    args = _engine(render_spec(spec_of(engine={"extra_args": ["--enable-chunked-prefill"]})))["args"]
    assert args[-1] == "--enable-chunked-prefill"


def test_spec_image_overrides_the_tested_tag() -> None:
    image = "registry.example.com/vllm@sha256:" + "a" * 64
    assert _engine(render_spec(spec_of(engine={"image": image})))["image"] == image


def test_sglang_tgi_and_llamacpp_commands() -> None:
    sglang = _engine(render_spec(spec_of(engine={"name": "sglang"})))
    assert sglang["command"] == ["python3", "-m", "sglang.launch_server"]
    assert "--enable-metrics" in sglang["args"]
    tgi = _engine(render_spec(spec_of(engine={"name": "tgi"})))
    assert tgi["command"] == ["text-generation-launcher"]
    assert tgi["args"][tgi["args"].index("--num-shard") + 1] == "1"
    llama = render_spec(
        spec_of(model={"source": "hf://bartowski/Meta-Llama-3.1-8B-Instruct-GGUF/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
                       "name": "Llama-3.1-8B", "quantization": "gguf"}, engine={"name": "llamacpp"})
    )  # fmt: skip
    c = _engine(llama)
    assert c["args"][1].endswith("/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    assert c["args"][c["args"].index("--n-gpu-layers") + 1] == "999"
    prefetch = pod_specs(workload(llama))[0]["initContainers"][0]  # the per-replica cache fills itself
    env = {e["name"]: e.get("value") for e in prefetch["env"]}
    assert env["KUBELLM_REPO"] == "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"
    assert env["KUBELLM_FILES"] == "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"


def test_trtllm_builds_engines_in_a_job_and_the_gateway_maps_the_model_name() -> None:
    objects = render_spec(
        spec_of(
            engine={"name": "trtllm"},
            gpu={"type": "L40S", "count": 1},
            storage={"access_mode": "ReadWriteMany", "storage_class": "shared-rwx"},
            metadata={"namespace": "svc"},  # its own namespace: the service's GPU quota is rendered
        )
    )
    job = find(objects, "Job", "svc-engine-build")
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["initContainers"][0]["name"] == "wait-for-model"
    script = find(objects, "ConfigMap", "svc-engine-build")["data"]["build.sh"]
    assert "LLM(model=" in script and ".kubellm-built" in script
    engine_pod = pod_specs(workload(objects))[0]
    assert [c["name"] for c in engine_pod["initContainers"]] == ["wait-for-model", "wait-for-engines"]
    gateway = find(objects, "ConfigMap", "svc-gateway")["data"]["gateway.yaml"]
    assert "upstream_model: ensemble" in gateway
    quota = find(objects, "ResourceQuota")
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "3"  # 2 replicas + the build Job


def test_every_adapter_names_its_queue_and_running_metrics() -> None:
    for adapter in ADAPTERS.values():
        assert adapter.metrics.queue and adapter.metrics.running
        assert adapter.readiness_path.startswith("/") and adapter.liveness_path.startswith("/")


def test_multi_node_renders_a_leader_worker_set_with_a_leader_only_service() -> None:
    spec = spec_of(
        model={
            "source": "hf://meta-llama/Llama-3.1-405B-Instruct-FP8",
            "name": "Llama-3.1-405B",
            "quantization": "fp8",
        },
        gpu={"type": "H100-SXM-80GB", "count": 16, "nodes": 2},
        scaling={"min_replicas": 1, "max_replicas": 1},
        metadata={"namespace": "svc"},
    )
    objects = render_spec(spec)
    lws = find(objects, "LeaderWorkerSet")
    template = lws["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 2 and template["restartPolicy"] == "RecreateGroupOnPodRestart"
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    worker = template["workerTemplate"]["spec"]["containers"][0]
    assert "ray start --head" in leader["args"][0] and "--pipeline-parallel-size 2" in leader["args"][0]
    assert "$(LWS_LEADER_ADDRESS)" in worker["args"][0]
    assert "startupProbe" in leader and "startupProbe" not in worker
    assert leader["resources"]["limits"]["nvidia.com/gpu"] == "8"
    service = find(objects, "Service", "svc-engine")
    assert service["spec"]["selector"]["kubellm.dev/role"] == "leader"
    assert find(objects, "ResourceQuota")["spec"]["hard"]["requests.nvidia.com/gpu"] == "16"
