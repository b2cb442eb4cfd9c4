"""Every platform's serving objects read into the same pod, engine, GPU and model facts the rules use."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubellm.lint.context import LintContext
from kubellm.lint.loader import load_paths, parse_text
from kubellm.lint.workload import PodView

FIELD = Path(__file__).parent / "data" / "field"


def pods(text: str) -> list[PodView]:
    return LintContext(parse_text(text, "t.yaml").objects).pods


def field_pods(name: str) -> tuple[LintContext, list[PodView]]:
    ctx = LintContext(load_paths([str(FIELD / name)]).objects)
    return ctx, ctx.pods


def test_kaito_workspace_preset_reads_gpu_model_and_parallelism() -> None:
    ctx, found = field_pods("kaito__workspace-llama-3.3-70b.yaml")
    (pod,) = found
    engine = pod.engines[0].engine
    assert engine is not None and (engine.engine, engine.model) == ("vllm", "llama-3.3-70b-instruct")
    assert (engine.tensor_parallel, engine.pipeline_parallel, pod.group_size) == (2, 2, 2)
    assert engine.max_model_len == 16384 and engine.gpu_memory_utilization == 0.95  # from the ConfigMap
    choice = ctx.gpu_for(pod)
    assert choice is not None and choice.smallest.name == "A100-80GB" and pod.gpu_count == 2


def test_kaito_inference_set_counts_replicas_and_sizes_its_own_context() -> None:
    _, (pod,) = field_pods("kaito__inferenceset-llama-3.1-8b.yaml")
    engine = pod.engines[0].engine
    assert pod.replicas == 2 and engine is not None and engine.sizes_context and engine.max_model_len is None


def test_nim_service_is_a_nim_engine_named_by_its_image() -> None:
    _, found = field_pods("ai-on-eks__nimservice-llama3-8b.yaml")
    service = next(p for p in found if p.obj.kind == "NIMService")
    engine = service.engines[0].engine
    assert engine is not None and (engine.engine, engine.model) == ("nim", "meta/llama-3.1-8b-instruct")
    assert service.gpu_count == 2 and service.managed
    assert any(p.obj.kind == "NIMCache" for p in found)


def test_dynamo_services_read_their_engine_gpus_and_nodes() -> None:
    _, found = field_pods("dynamo__dgd-vllm-disagg-multinode.yaml")
    by_role = {p.path: p for p in found}
    decode = by_role["spec.services.decode.extraPodSpec"]
    engine = decode.engines[0].engine
    assert engine is not None and (engine.engine, engine.tensor_parallel) == ("vllm", 2)
    assert decode.gpu_count == 1 and decode.group_size == 2
    frontend = by_role["spec.services.Frontend.extraPodSpec"]
    assert frontend.engines == []  # dynamo.frontend routes requests; it is not an engine


def test_ray_service_llm_config_becomes_the_gpu_workers_engine() -> None:
    _, found = field_pods("kuberay__rayservice-serve-llm-qwen.yaml")
    head = next(p for p in found if p.role == "head")
    worker = next(p for p in found if p.role == "worker")
    engine = worker.engines[0].engine
    assert head.engines == [] and engine is not None
    assert (engine.engine, engine.model, engine.max_model_len) == (
        "ray-serve-llm",
        "Qwen/Qwen2.5-7B-Instruct",
        1024,
    )


def test_ray_container_without_command_is_a_ray_node_not_an_engine() -> None:
    _, found = field_pods("ai-on-eks__rayservice-vllm-mistral.yaml")
    assert all(p.engines == [] for p in found)  # a 'vllm' image that KubeRay starts as `ray start`


def test_rayclusterfleet_engine_spans_its_gpu_workers() -> None:
    _, found = field_pods("aibrix__rayclusterfleet-deepseek-r1-rdma.yaml")
    head = next(p for p in found if p.role == "head")
    worker = next(p for p in found if p.role == "worker")
    assert head.group_size == 2 and head.engines[0].engine is not None
    assert head.engines[0].engine.tensor_parallel == 16
    assert worker.engines and worker.engines[0].engine is not None and worker.engines[0].engine.rank


def test_llm_inference_service_reads_model_parallelism_and_worker_group() -> None:
    _, found = field_pods("kserve__llmisvc-deepseek-r1-dp-ep-rdma.yaml")
    leader = next(p for p in found if p.role == "leader")
    engine = leader.engines[0].engine
    assert engine is not None and engine.model == "deepseek-ai/DeepSeek-R1-0528"
    assert (engine.data_parallel, engine.nodes, engine.gpus_per_node) == (32, 4, 8)
    assert engine.max_model_len == 8192  # from VLLM_ADDITIONAL_ARGS
    assert leader.group_size == 4 and any(p.role == "worker" for p in found)


KNATIVE = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: llama, namespace: llm}
spec:
  template:
    spec:
      containers:
        - image: vllm/vllm-openai:v0.10.1.1
          args: [--model, meta-llama/Llama-3.1-8B-Instruct]
          resources: {limits: {nvidia.com/gpu: 1}}
"""


def test_knative_service_is_a_pod_template_not_a_core_service() -> None:
    ctx = LintContext(parse_text(KNATIVE, "k.yaml").objects)
    (pod,) = ctx.pods
    assert pod.engines and ctx.by_kind("Service") == [] and ctx.by_kind("KnativeService")


STS_AND_SERVICE = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: 'postgres:16.4'}]}}
"""


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({"app": "db", "apps.kubernetes.io/pod-index": "0"}, True),
        ({"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"}, True),
        (
            {
                "matchExpressions": [
                    {"key": "apps.kubernetes.io/pod-index", "operator": "In", "values": ["1"]}
                ]
            },
            True,
        ),
        ({"matchExpressions": [{"key": "apps.kubernetes.io/pod-index", "operator": "DoesNotExist"}]}, False),
        ({"app": "db", "leaderworkerset.sigs.k8s.io/worker-index": "0"}, False),
    ],
)
def test_controller_added_labels_match_selectors(selector: dict[str, object], matches: bool) -> None:
    ctx = LintContext(parse_text(STS_AND_SERVICE, "s.yaml").objects)
    assert bool(ctx.pods_selected(selector, "")) is matches


def test_leaderworkerset_injects_group_size_into_engine_arguments() -> None:
    _, found = field_pods("lws__sglang-multinode-tp2.yaml")
    leader = next(p for p in found if p.role == "leader")
    engine = leader.engines[0].engine
    assert engine is not None and (engine.nodes, engine.gpus_per_node) == (2, 1)


def test_every_field_corpus_serving_object_is_read() -> None:
    """No file of the field corpus is skipped or crashes (the benchmark prints the same from the labels)."""
    from kubellm.lint.runner import lint_loaded

    for path in sorted(FIELD.glob("*.yaml")):
        result = lint_loaded(load_paths([str(path)]))
        assert not [n for n in result.notes if "kind not checked" in n], path.name
