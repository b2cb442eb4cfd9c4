"""GPU rules about GPU resources and parallelism: limits, TP × PP against GPUs, shared GPUs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from kubellm.lint.context import LintContext
from kubellm.lint.engines import engine_from_image
from kubellm.lint.engines.nim import is_nim_image
from kubellm.lint.facts import parse_image, rdma_set_up
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.gpu import SHARED_GPU_RESOURCES, is_gpu_resource, is_other_accelerator
from kubellm.lint.quantity import parse_quantity
from kubellm.lint.registry import rule
from kubellm.lint.workload import ContainerView, PodView, as_dict, as_list

CUDA_ENGINES = frozenset({"vllm", "sglang", "tgi", "triton", "trtllm", "kserve-hf"})
MAX_GPUS_PER_NODE = 8


def _cpu_mode(c: ContainerView) -> bool:
    engine = c.engine
    image = c.image.lower()
    if engine is None:
        return True
    if engine.device == "cpu" or "cpu" in image or c.env.get("VLLM_TARGET_DEVICE") == "cpu":
        return True
    if engine.engine == "llamacpp":
        return "cuda" not in image
    return engine.engine == "ollama"


@rule(
    "GPU001",
    "gpu-limit-missing",
    Severity.ERROR,
    "An LLM engine container requests no GPU",
    why="Without an `nvidia.com/gpu` (or MIG) limit the device plugin gives the container no GPU, even on a "
    "GPU node: vLLM stops with `RuntimeError: Failed to infer device type` / `No CUDA GPUs are available`. "
    "A container that requests another accelerator (AWS Neuron, TPU, Gaudi) or claims devices through DRA is "
    "not reported.",
    fix="Add `resources.limits: {nvidia.com/gpu: N}` (N = tensor × pipeline parallel size), or run a CPU build "
    "of the engine (`--device cpu`, a `-cpu` image).",
    bad="image: vllm/vllm-openai:v0.10.1.1\nresources: {limits: {memory: 32Gi}}",
    good="image: vllm/vllm-openai:v0.10.1.1\nresources: {limits: {memory: 32Gi, nvidia.com/gpu: 1}}",
    mistakes=("M3",),
)
def gpu_limit_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.template or pod.spec.get("resourceClaims"):
        return  # a runtime template (the InferenceService requests the GPUs), or GPUs claimed through DRA
    for c in pod.engines:
        if c.gpu_resources or _cpu_mode(c) or any(is_other_accelerator(str(r)) for r in c.limits):
            continue
        assert c.engine is not None
        yield Hit(
            f"{c.engine.engine} container {c.name!r} (image {c.image or '?'}) has no GPU resource limit; "
            "it will not see a GPU",
            f"{c.path}.resources",
            c.name,
        )


@rule(
    "GPU002",
    "gpu-request-limit-mismatch",
    Severity.ERROR,
    "A GPU resource is fractional, or its request differs from its limit",
    why="Extended resources must be integers and requests must equal limits; the API server rejects the pod "
    "(`must be an integer`, `must be equal to nvidia.com/gpu limit`).",
    fix="Use a whole number and give the same value in requests and limits (or only in limits). For part "
    "of a GPU use a MIG profile (`nvidia.com/mig-3g.40gb`) or time-slicing.",
    bad="resources:\n  requests: {nvidia.com/gpu: 1}\n  limits: {nvidia.com/gpu: 2}",
    good="resources:\n  limits: {nvidia.com/gpu: 2}",
    mistakes=("M5",),
    managed=True,
)
def gpu_request_limit_mismatch(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        limits, requests = c.limits, c.requests
        for name in sorted({*limits, *requests}):
            if not is_gpu_resource(str(name)) or name in ("nvidia.com/gpumem", "nvidia.com/gpucores"):
                continue
            for section, values in (("limits", limits), ("requests", requests)):
                if name in values:
                    number = parse_quantity(values[name])
                    if number is None or number != int(number):
                        yield Hit(
                            f"{name} {section} is {values[name]!r}, not a whole number",
                            f"{c.path}.resources.{section}",
                            c.name,
                        )
            if name in requests and name not in limits:
                yield Hit(
                    f"{name} is requested ({requests[name]}) but has no limit",
                    f"{c.path}.resources.requests",
                    c.name,
                )
            elif name in requests and parse_quantity(requests[name]) != parse_quantity(limits[name]):
                yield Hit(
                    f"{name} request {requests[name]} differs from limit {limits[name]}",
                    f"{c.path}.resources.requests",
                    c.name,
                )


def _parallel_source(c: ContainerView) -> str:
    assert c.engine is not None
    engine = c.engine
    parts = [f"TP {engine.tensor_parallel or 1}"]
    if (engine.pipeline_parallel or 1) > 1:
        parts.append(f"PP {engine.pipeline_parallel}")
    if (engine.data_parallel or 1) > 1:
        parts.append(f"DP {engine.data_parallel}")
    return " × ".join(parts)


@rule(
    "GPU003",
    "tp-gpu-mismatch",
    Severity.ERROR,
    "Tensor × pipeline parallel size differs from the GPUs the pod (or pod group) gets",
    why="vLLM starts one worker per GPU of TP × PP: with fewer GPUs it fails (`Tensor parallel size (2) exceeds "
    "available GPUs (1)`), with more the extra GPUs sit idle and are paid for.",
    fix="Make `nvidia.com/gpu` equal to TP × PP per pod (TGI: NUM_SHARD); across nodes, TP × PP = pods per group "
    "× GPUs per pod.",
    bad="args: [--tensor-parallel-size=2]\nresources: {limits: {nvidia.com/gpu: 1}}",
    good="args: [--tensor-parallel-size=2]\nresources: {limits: {nvidia.com/gpu: 2}}",
    mistakes=("M6",),
    managed=True,
    needs="engine",
)
def tp_gpu_mismatch(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        engine = c.engine
        assert engine is not None
        if c.gpu_count <= 0 or engine.engine not in PARALLEL_ENGINES:
            continue
        if any(r.startswith("nvidia.com/mig-") for r in c.gpu_resources):
            continue
        explicit = engine.tensor_parallel is not None or engine.pipeline_parallel is not None
        needed = engine.gpus_needed
        per_node = engine.gpus_per_node
        if explicit and per_node is not None:  # the engine names its node count (--nnodes)
            if per_node * (engine.nodes or 1) != needed or per_node != c.gpu_count:
                yield Hit(
                    f"{_parallel_source(c)} over {engine.nodes} nodes needs {needed} GPUs, "
                    f"{needed / (engine.nodes or 1):g} per pod, but each pod gets {c.gpu_count}",
                    f"{c.path}.resources",
                    c.name,
                )
            continue
        available = c.gpu_count * pod.group_size
        if pod.multi_node and (engine.pipeline_parallel is None or engine.tensor_parallel is None):
            continue  # the group's layout is set elsewhere (Ray, the controller)
        if explicit and needed != available:
            where = (
                f"{c.gpu_count} GPU(s) per pod × {pod.group_size} pods"
                if pod.multi_node
                else f"{c.gpu_count} GPU(s)"
            )
            yield Hit(
                f"{_parallel_source(c)} needs {needed} GPUs but the pod gets {where}",
                f"{c.path}.resources",
                c.name,
            )
        elif (
            not explicit
            and c.gpu_count > 1
            and engine.engine in ("vllm", "sglang", "kserve-hf")
            and not pod.multi_node
        ):
            yield Hit(
                f"{c.gpu_count} GPUs are requested but no --tensor-parallel-size is set: {engine.engine} uses one",
                f"{c.path}.resources",
                c.name,
            )


PARALLEL_ENGINES = frozenset(
    {"vllm", "sglang", "tgi", "kserve-hf", "triton", "trtllm", "ray-serve-llm", "lmdeploy"}
)


@rule(
    "GPU030",
    "tp-across-nodes",
    Severity.WARNING,
    "Tensor parallelism spans nodes",
    why="Tensor parallelism all-reduces every layer's activations; inside a node that runs over NVLink, across "
    "nodes over the network, many times slower (worst with one GPU per node, where every all-reduce leaves the "
    "node). Pipeline parallelism sends one activation per stage and is what spans nodes. Multi-GPU nodes joined "
    "by RDMA (an RDMA device or NCCL_IB_* settings) are a deliberate exception and are not reported.",
    fix="Keep TP ≤ the GPUs of one pod (one node) and span nodes with pipeline parallelism "
    "(`--tensor-parallel-size 8 --pipeline-parallel-size 2` for 2 × 8 GPUs), or use fewer, larger GPUs.",
    bad="# LeaderWorkerSet size 2, 1 GPU per pod\nargs: [--tp, '2', --nnodes, '2']",
    good="# LeaderWorkerSet size 2, 8 GPUs per pod\nargs: [--tensor-parallel-size=8, --pipeline-parallel-size=2]",
    managed=True,
)
def tp_across_nodes(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if not pod.multi_node:
        return
    for c in pod.engines:
        tp = c.engine.tensor_parallel if c.engine else None
        if c.gpu_count <= 0 or tp is None or tp <= c.gpu_count or (c.engine and c.engine.rank):
            continue
        if c.gpu_count > 1 and rdma_set_up(c):
            continue  # TP over 8-GPU nodes joined by InfiniBand/RoCE is a deliberate, supported layout
        nodes = -(-tp // c.gpu_count)
        yield Hit(
            f"tensor parallel {tp} spans {nodes} nodes with {c.gpu_count} GPU(s) each: every layer's all-reduce "
            "crosses the network",
            c.path,
            c.name,
        )


@rule(
    "GPU004",
    "tp-not-power-of-two",
    Severity.WARNING,
    "Tensor parallel size is not a power of two",
    why="Attention heads (and KV heads) must divide evenly by TP; model head counts are powers of two times "
    "small factors, so TP 3, 5, 6 or 7 fails (`Total number of attention heads (40) must be divisible by "
    "tensor parallel size (6)`).",
    fix="Use TP 1, 2, 4 or 8; use pipeline parallelism or more replicas for the rest.",
    bad="args: [--tensor-parallel-size=6]",
    good="args: [--tensor-parallel-size=4, --pipeline-parallel-size=2]",
    mistakes=("M7",),
    managed=True,
    needs="engine",
)
def tp_not_power_of_two(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        tp = c.engine.tensor_parallel if c.engine else None
        if tp is not None and tp > 0 and tp & (tp - 1):
            yield Hit(f"tensor parallel size {tp} is not a power of two", c.path, c.name)


@rule(
    "GPU017",
    "shared-gpu-mem-util",
    Severity.WARNING,
    "A shared (time-sliced / MPS) GPU runs vLLM at its default memory utilisation",
    why="Time-slicing and MPS give no memory isolation: each vLLM process claims `--gpu-memory-utilization` "
    "(default 0.9) of the whole GPU, so the second one fails (`Free memory on device … is less than desired "
    "GPU memory utilization`) or OOMs.",
    fix="On a GPU shared N ways set `--gpu-memory-utilization` ≤ 1/N (and `--max-model-len`), or use MIG "
    "profiles for isolation.",
    bad="resources: {limits: {nvidia.com/gpu.shared: 1}}\nargs: [serve, Qwen/Qwen3-8B]",
    good="resources: {limits: {nvidia.com/gpu.shared: 1}}\nargs: [serve, Qwen/Qwen3-8B, --gpu-memory-utilization=0.45]",
    mistakes=("M18", "M31"),
    scope="set",
)
def shared_gpu_mem_util(ctx: LintContext) -> Iterator[Hit]:
    vllm_utils: list[float | None] = []
    for pod in ctx.pods:
        for c in pod.engines:
            if c.engine and c.engine.vllm_like:
                vllm_utils.append(c.engine.gpu_memory_utilization)
                shared = [r for r in c.gpu_resources if r in SHARED_GPU_RESOURCES]
                util = c.engine.gpu_memory_utilization
                if shared and (util is None or util > _planner_limit()):
                    yield Hit(
                        f"{shared[0]} is shared without memory isolation and --gpu-memory-utilization is "
                        f"{util if util is not None else 'unset (0.9)'}",
                        c.path,
                        c.name,
                        obj=pod.obj,
                    )
    for cm in ctx.by_kind("ConfigMap"):
        for key, replicas, mode in _sharing_configs(as_dict(cm.data.get("data"))):
            if replicas <= 1:
                continue
            limit = _planner_limit(replicas)
            if vllm_utils and all(u is not None and u <= limit for u in vllm_utils):
                continue
            # With vLLM pods in the set that break the bound this is a warning; alone it is a reminder.
            yield Hit(
                f"device-plugin config {key!r} shares each GPU {replicas} ways by {mode} without memory isolation: "
                f"every vLLM pod on these GPUs needs --gpu-memory-utilization ≤ {limit:.2f}",
                f"data.{key}",
                obj=cm,
                severity=None if vllm_utils else Severity.INFO,
            )


def _planner_limit(pods: int | None = None) -> float:
    """The planner's memory-utilisation bound for a GPU shared by `pods` processes. Imported only when a
    shared GPU is seen: the planner package costs a tenth of a second to import, more than linting a
    thousand ordinary Deployments."""
    from kubellm.planning.resources import shared_gpu_max_utilization

    return shared_gpu_max_utilization() if pods is None else shared_gpu_max_utilization(pods)


def _sharing_configs(data: dict[str, Any]) -> Iterator[tuple[str, int, str]]:
    """(key, replicas, 'time-slicing' | 'MPS') for NVIDIA device-plugin configs inside a ConfigMap."""
    for key, text in data.items():
        if not isinstance(text, str) or "sharing" not in text:
            continue
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        sharing = as_dict(as_dict(config).get("sharing"))
        for field, mode in (("timeSlicing", "time-slicing"), ("mps", "MPS")):
            for res in as_list(as_dict(sharing.get(field)).get("resources")):
                replicas = as_dict(res).get("replicas")
                if isinstance(replicas, int) and not isinstance(replicas, bool):
                    yield str(key), replicas, mode


@rule(
    "GPU026",
    "gpu-visible-without-request",
    Severity.WARNING,
    "A container sees GPUs it did not request",
    why="CUDA images set `NVIDIA_VISIBLE_DEVICES=all`; on nodes where the NVIDIA runtime honours it, a pod "
    "without a GPU request sees every GPU of the node, outside the scheduler's accounting (noisy neighbour, "
    "security). Setting it to `all` by hand does the same.",
    fix="Request GPUs through `resources.limits`; in CUDA-image containers that must not use a GPU set "
    "`NVIDIA_VISIBLE_DEVICES=none`; never set it to `all` yourself.",
    bad="image: vllm/vllm-openai:v0.10.1.1\nargs: [serve, Qwen/Qwen3-0.6B]   # no GPU request",
    good="image: vllm/vllm-openai:v0.10.1.1\nenv: [{name: NVIDIA_VISIBLE_DEVICES, value: none}]",
    mistakes=("M4",),
)
def gpu_visible_without_request(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        visible = c.env.get("NVIDIA_VISIBLE_DEVICES")
        if visible is not None and visible.strip().lower() == "all":
            yield Hit(f"container {c.name!r} sets NVIDIA_VISIBLE_DEVICES=all", f"{c.path}.env", c.name)
            continue
        engine = c.engine
        if (
            engine is not None
            and not pod.template
            and not c.init
            and not c.gpu_resources
            and engine.engine in CUDA_ENGINES
            and (engine_from_image(c.image) is not None or is_nim_image(c.image))
            and "cpu" not in c.image.lower()
            and engine.device != "cpu"
            and visible is None
        ):
            yield Hit(
                f"{engine.engine} image {parse_image(c.image).repository or '?'} is a CUDA image and the container "
                "requests no GPU: on many nodes it still sees all GPUs (NVIDIA_VISIBLE_DEVICES=all in the image)",
                c.path,
                c.name,
            )


@rule(
    "GPU027",
    "gpus-per-pod-sanity",
    Severity.WARNING,
    "A pod asks for more GPUs than any node has",
    why="GPU nodes have at most 8 GPUs (or as many MIG slices as the profile allows); a pod asking for more "
    "stays Pending forever (`0/3 nodes are available: 3 Insufficient nvidia.com/gpu`).",
    fix="Keep GPUs per pod ≤ GPUs per node; span nodes with a LeaderWorkerSet (pipeline parallel) instead.",
    bad="resources: {limits: {nvidia.com/gpu: 16}}",
    good="# LeaderWorkerSet size 2 × 8 GPUs, --tensor-parallel-size 8 --pipeline-parallel-size 2",
    mistakes=("M13",),
    managed=True,
)
def gpus_per_pod(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    total = pod.gpu_count
    choice = ctx.gpu_for(pod)
    if choice is not None and choice.mig_profile:
        mig = choice.gpus[0].mig_profile(choice.mig_profile)
        if mig is not None and total > mig.max_count * MAX_GPUS_PER_NODE:
            yield Hit(
                f"{total} MIG {choice.mig_profile} slices per pod exceed what one node offers", pod.path
            )
        return
    if total > MAX_GPUS_PER_NODE:
        yield Hit(f"the pod asks for {total} GPUs; GPU nodes have at most {MAX_GPUS_PER_NODE}", pod.path)


@rule(
    "GPU029",
    "gpu-memory-utilization-range",
    Severity.ERROR,
    "--gpu-memory-utilization (or --mem-fraction-static) is outside (0, 0.98]",
    why="The fraction of GPU memory the engine may claim must leave room for CUDA graphs, NCCL and "
    "fragmentation; 1.0 or more OOMs at the first CUDA-graph capture, 0 or less is rejected.",
    fix="Use 0.85–0.95 on a dedicated GPU, ≤ 1/N on a GPU shared N ways.",
    bad="args: [--gpu-memory-utilization=1.0]",
    good="args: [--gpu-memory-utilization=0.92]",
    managed=True,
    needs="engine",
)
def gpu_memory_utilization_range(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        util = c.engine.gpu_memory_utilization if c.engine else None
        if util is not None and not 0 < util <= 0.98:
            yield Hit(f"GPU memory fraction {util} is outside (0, 0.98]", c.path, c.name)
