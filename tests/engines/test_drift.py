"""The drifts issue 17 measured, each pinned: they failed before the engine tables and the self-sufficient Plan."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from typing import Any

import pytest

from kubellm.errors import UsageError
from kubellm.lint.loader import parse_text
from kubellm.lint.runner import lint_loaded
from kubellm.local import commands
from kubellm.local.engines import LocalEngine
from kubellm.planning import plan, planner
from kubellm.render import render, render_context
from kubellm.render.gateway import gateway_config
from kubellm.sim.config import config_from_plan
from kubellm.spec import LLMService

from .specs import engine_spec


def test_extra_args_underscore_spelling_of_a_planned_flag_is_refused() -> None:
    p = plan(engine_spec("vllm", engine={"extra_args": ["--max_model_len=131072"]}))
    with pytest.raises(UsageError) as err:
        render(p)
    assert "serving.max_model_len" in err.value.fix


def test_extra_args_cannot_turn_prefix_caching_back_on() -> None:
    spec = engine_spec("vllm", engine={"extra_args": ["--enable-prefix-caching"]})
    assert "--no-enable-prefix-caching" in plan(spec).engine_args
    with pytest.raises(UsageError) as err:
        render(plan(spec))
    assert "serving.prefix_caching" in err.value.fix


def test_local_mode_guards_extra_args_like_render() -> None:
    spec = engine_spec("vllm", engine={"extra_args": ["--max_model_len", "131072"]})
    with pytest.raises(UsageError, match=r"serving\.max_model_len"):
        commands.vllm_process(spec, 0, 8001, plan(spec), [0])


def test_gguf_served_name_is_the_same_on_a_cluster_in_up_and_in_the_simulator() -> None:
    spec = engine_spec("llamacpp", model={"served_name": None})
    p = plan(spec)
    on_cluster = render_context(p).served_name
    assert on_cluster == "microsoft/Phi-3-mini-4k-instruct-gguf"
    assert commands.served_name(spec) == on_cluster
    assert config_from_plan(p).served_model_name == on_cluster


def test_local_gateway_config_is_the_clusters_apart_from_listen_backends_and_health() -> None:
    spec = engine_spec("vllm", gateway={"requests_per_minute": 600})
    p = plan(spec)
    local = commands.gateway_config(spec, ["http://127.0.0.1:8001"], 8080, LocalEngine.VLLM, None, plan=p)
    cluster = gateway_config(render_context(p))
    assert local.pools[0].max_outstanding_per_backend == p.settings.max_num_seqs
    differs = {"backends", "scale_from_zero"}  # (local's static replicas cannot scale from zero)
    assert local.pools[0].model_dump(exclude=differs) == cluster.pools[0].model_dump(exclude=differs)
    assert local.admission == cluster.admission
    assert local.cold_start_timeout_s == cluster.cold_start_timeout_s


@pytest.mark.parametrize(
    ("text", "value"),
    [("100n", 1e-7), ("1Ei", 2.0**60), ("1K", None), ("500m", 0.5), ("1e3", 1000.0), ("1Zi", None)],
)
def test_lint_and_cluster_read_quantities_alike(text: str, value: float | None) -> None:
    from kubellm.cluster.objects import parse_quantity as cluster_parse
    from kubellm.lint.quantity import parse_quantity as lint_parse

    for parse in (lint_parse, cluster_parse):
        assert parse(text) == (pytest.approx(value) if value is not None else None), parse.__module__


def _gpu007(objects: list[dict[str, Any]]) -> list[str]:
    import yaml

    result = lint_loaded(parse_text(yaml.safe_dump_all(objects, sort_keys=False), "rendered"))
    return [f.message for f in result.findings if f.rule == "GPU007"]


def test_lint_expects_the_planners_startup_budget() -> None:
    from kubellm.planning.resources import startup_budget_s

    spec = LLMService.model_validate(
        {"metadata": {"name": "t"}, "model": {"source": "hf://meta-llama/Llama-3.3-70B-Instruct"},
         "gpu": {"type": "H100", "count": 4}, "serving": {"max_model_len": 8192}, "storage": {"model_cache": "pvc"},
         "security": {"hf_token_secret": "hf-token"}}
    )  # fmt: skip
    p = plan(spec)
    assert p.probes.download_s == 0  # weights prefetched: the planned budget is the no-download one
    objects = render(p)
    container = next(
        o
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet")
        and o["metadata"]["labels"]["app.kubernetes.io/component"] == "engine"
    )["spec"]["template"]["spec"]["containers"][0]
    container["args"][0] = "meta-llama/Llama-3.3-70B-Instruct"  # the hub id, so lint knows the model's size
    assert _gpu007(objects) == []
    probe = container["startupProbe"]
    assert probe["failureThreshold"] * probe["periodSeconds"] >= p.probes.startup_budget_s
    short = p.probes.startup_budget_s - 60
    assert short > startup_budget_s(0, downloads_at_start=False)  # above the floor: the model's size decides
    probe["failureThreshold"] = short // probe["periodSeconds"]
    assert _gpu007(objects), "a probe a minute shorter than the planner's budget lints clean"


def test_the_plan_carries_its_performance_model_with_fp8_compute_across_pickling() -> None:
    import pickle

    spec = LLMService.model_validate(
        {"metadata": {"name": "t"}, "model": {"source": "hf://meta-llama/Llama-3.3-70B-Instruct", "quantization": "fp8"},
         "gpu": {"type": "H100", "count": 2}}
    )  # fmt: skip
    p = plan(spec)
    assert p.performance_model.compute_dtype == "fp8"
    in_bf16 = dataclasses.replace(p.performance_model, compute_dtype="bfloat16").prefill_ms(4096)
    assert p.performance_model.prefill_ms(4096) < 0.6 * in_bf16  # fp8 compute: about half the bf16 prefill
    copy = pickle.loads(pickle.dumps(p))
    assert copy.performance_model.prefill_ms(4096) == pytest.approx(p.performance_model.prefill_ms(4096))
    assert copy.model_arch == p.model_arch and copy.gpu_spec == p.gpu_spec


def test_the_shared_gpu_limit_is_one_rule_in_plan_render_and_lint() -> None:
    from kubellm.planning.resources import shared_gpu_max_utilization

    limit = shared_gpu_max_utilization()
    for util, problem in ((limit, False), (round(limit + 0.05, 2), True)):
        spec = LLMService.model_validate(
            {"metadata": {"name": "t"}, "model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"},
             "gpu": {"type": "L4", "sharing": "time-slicing", "memory_utilization": util}}
        )  # fmt: skip
        p = plan(spec)
        warned = [w for w in p.warnings if "memory_utilization" in w]
        assert bool(warned) is problem
        if problem:
            assert f"{limit:g}" in warned[0]  # the plan advises the limit render enforces
            with pytest.raises(UsageError) as err:
                render(p)
            assert f"{limit:g}" in err.value.fix
        else:
            render(p)


def test_the_tp_search_is_written_once() -> None:
    source = inspect.getsource(planner)
    assert source.count("memory_fit(") == 1, "the planner walks TP sizes in one place (_search)"


def test_every_render_check_can_fire() -> None:
    """Each refusal in render.checks is reachable: the spec validator does not reject its case first."""
    from kubellm.render import checks

    tree = ast.parse(inspect.getsource(checks))
    raises = sum(isinstance(node, ast.Raise) and "UsageError" in ast.unparse(node) for node in ast.walk(tree))
    messages: set[str] = set()
    for data in RENDER_CHECK_CASES:
        spec = LLMService.model_validate({"metadata": {"name": "t"}, **data})
        with pytest.raises(UsageError) as err:
            render(plan(spec))
        messages.add(err.value.what[:40])
    # An engine the catalog does not list for a model (a parsed config.json that names none).
    spec = LLMService.model_validate(
        {"metadata": {"name": "t"}, "model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"}}
    )
    arch = dataclasses.replace(plan(spec).model_arch, engines=())
    with pytest.raises(UsageError) as err:
        render(plan(spec, model=arch))
    messages.add(err.value.what[:40])
    assert len(messages) == raises, messages


RENDER_CHECK_CASES: list[dict[str, Any]] = [
    # does not fit (whole GPU)
    {"model": {"source": "hf://meta-llama/Llama-3.3-70B-Instruct"}, "gpu": {"type": "L4", "count": 1}},
    # does not fit (MIG slice)
    {"model": {"source": "hf://meta-llama/Llama-3.3-70B-Instruct"},
     "gpu": {"type": "A100-80GB", "sharing": "mig", "mig_profile": "1g.10gb"}},
    # more GPUs per pod than a node has
    {"model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"}, "gpu": {"type": "H100", "count": 8, "gpus_per_node": 4}},
    # multi-node on an engine that cannot span nodes
    {"model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"}, "engine": {"name": "tgi"},
     "gpu": {"type": "H100", "count": 2, "nodes": 2}},
    # shared GPU claiming more than its share
    {"model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"},
     "gpu": {"type": "L4", "sharing": "mps", "memory_utilization": 0.9}},
    # trtllm without a shared model cache
    {"model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"}, "engine": {"name": "trtllm"}, "gpu": {"type": "H100"},
     "storage": {"model_cache": "none"}},
    # httproute without a parent Gateway
    {"model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"},
     "gateway": {"host": "llm.example.com", "ingress": "httproute"}},
    # ingress without a certificate source
    {"model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"}, "gateway": {"host": "llm.example.com", "ingress": "ingress"}},
]  # fmt: skip


def test_the_gateway_reads_the_load_metrics_of_every_engine_kubellm_renders() -> None:
    """The gateway may import only spec, so it keeps a copy of the names; this holds it to the tables."""
    from kubellm.engines import RENDERED
    from kubellm.gateway.engine_metrics import KV_USAGE, RUNNING, WAITING

    for table in RENDERED.values():
        m = table.metrics
        assert m is not None
        if (
            table.name == "trtllm"
        ):  # Triton's load is label-selected series that PromQL reads, not the gateway
            continue
        for name, known in ((m.queue, WAITING), (m.running, RUNNING), (m.kv_usage, KV_USAGE)):
            if name is None:
                continue
            assert name in known, f"the gateway cannot read {table.name}'s {name}"


def test_the_simulator_exports_the_vllm_tables_metric_names() -> None:
    from kubellm.engines import VLLM
    from kubellm.sim.blocks import KvBlockPool
    from kubellm.sim.metrics import EngineMetrics
    from kubellm.sim.scheduler import ContinuousBatchScheduler, SchedulerLimits

    assert VLLM.metrics is not None
    p = plan(engine_spec("vllm"))
    config = config_from_plan(p)
    pool = KvBlockPool(config.kv_blocks, config.block_size)
    limits = SchedulerLimits(config.max_num_seqs, config.max_num_batched_tokens, config.max_model_len)
    text = EngineMetrics(config.served_model_name, config.max_model_len).render(
        ContinuousBatchScheduler(limits, pool), pool
    )
    for name in (VLLM.metrics.queue, VLLM.metrics.running, VLLM.metrics.kv_usage):
        assert f"\n{name}{{" in text
