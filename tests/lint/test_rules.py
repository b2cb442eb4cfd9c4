"""Every rule fires on its failing case and stays silent on its passing case; the expert set is clean."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubellm.lint.registry import all_rules

from .cases import (
    CASES,
    GPU_TIME_SLICING_BAD,
    KUBEAI_BAD,
    KUBEAI_GOOD,
    STORAGE_BAD,
    STORAGE_GOOD,
    expert,
    lint,
    lint_yaml,
)
from .cases_more import MORE, Builder

RULE_IDS = [r.meta.id for r in all_rules() if r.meta.id != "LINT001"]


def _builders(rule_id: str, index: int) -> list[Builder]:
    first = [CASES[rule_id][index]] if rule_id in CASES else []
    return [*first, *MORE.get(rule_id, ([], []))[index]]


def _all_cases(index: int) -> list[tuple[str, int, Builder]]:
    return [(rule_id, i, build) for rule_id in RULE_IDS for i, build in enumerate(_builders(rule_id, index))]


FAILING = _all_cases(0)
PASSING = _all_cases(1)


def rules_fired(objs: list[dict[str, object]]) -> set[str]:
    return {f.rule for f in lint(objs).findings}


def test_every_rule_has_three_failing_and_three_passing_cases() -> None:
    few = {r for r in RULE_IDS if len(_builders(r, 0)) < 3 or len(_builders(r, 1)) < 3}
    assert sorted(few) == []


@pytest.mark.parametrize(("rule_id", "index", "build"), FAILING, ids=[f"{r}-{i}" for r, i, _ in FAILING])
def test_rule_fires_on_its_failing_cases(rule_id: str, index: int, build: Builder) -> None:
    assert rule_id in rules_fired(build())


@pytest.mark.parametrize(("rule_id", "index", "build"), PASSING, ids=[f"{r}-{i}" for r, i, _ in PASSING])
def test_rule_is_silent_on_its_passing_cases(rule_id: str, index: int, build: Builder) -> None:
    assert rule_id not in rules_fired(build())


def test_expert_manifest_raises_nothing() -> None:
    result = lint(expert())
    assert [(f.rule, f.message) for f in result.findings] == []


def test_time_slicing_config_needs_low_memory_utilization() -> None:
    fired = [f for f in lint(GPU_TIME_SLICING_BAD()).findings if f.rule == "GPU017" and f.kind == "ConfigMap"]
    assert len(fired) == 1 and "0.25" in fired[0].message and fired[0].severity.value == "warning"


def test_time_slicing_config_alone_is_only_a_reminder() -> None:
    alone = [o for o in GPU_TIME_SLICING_BAD() if o["kind"] == "ConfigMap"]
    assert [f.severity.value for f in lint(alone).findings if f.rule == "GPU017"] == ["info"]


def test_kubeai_model_without_cache_profile() -> None:
    assert "GPU028" in {f.rule for f in lint_yaml(KUBEAI_BAD).findings}
    assert "GPU028" not in {f.rule for f in lint_yaml(KUBEAI_GOOD).findings}


def test_kubeai_model_tp_must_match_resource_profile() -> None:
    text = KUBEAI_GOOD.replace("--max-model-len=8192", "--tensor-parallel-size=2").replace(
        "nvidia-gpu-l4:1", "nvidia-gpu-l4:1"
    )
    assert "GPU003" in {f.rule for f in lint_yaml(text).findings}


def test_storage_initializer_memory_against_model_size() -> None:
    isvc = yaml.safe_dump(
        yaml.safe_load(
            "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m}\nspec: {predictor: {model: "
            "{modelFormat: {name: huggingface}, storageUri: 'hf://meta-llama/Meta-Llama-3-8B-Instruct'}}}"
        )
    )
    assert "GPU010" in {f.rule for f in lint_yaml(STORAGE_BAD + "---\n" + isvc).findings}
    assert "GPU010" not in {f.rule for f in lint_yaml(STORAGE_GOOD + "---\n" + isvc).findings}


def test_gpu_flag_supplies_the_gpu_for_fit_rules() -> None:
    objs = expert()
    objs[1]["spec"]["template"]["spec"].pop("nodeSelector")
    objs[1]["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "serve",
        "meta-llama/Llama-3.1-70B-Instruct",
        "--max-model-len=8192",
    ]
    assert "FIT001" not in {f.rule for f in lint(objs).findings}
    from kubellm.catalog import default_catalog

    assert "FIT001" in {f.rule for f in lint(objs, gpu=default_catalog().gpu("l4")).findings}


def test_mig_resource_gives_the_gpu_slice() -> None:
    objs = expert()
    spec = objs[1]["spec"]["template"]["spec"]
    spec["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    res = spec["containers"][0]["resources"]
    for section in ("requests", "limits"):
        res[section].pop("nvidia.com/gpu")
        res[section]["nvidia.com/mig-1g.10gb"] = 1
    messages = [f.message for f in lint(objs).findings if f.rule in ("FIT001", "FIT002")]
    assert messages and "MIG 1g.10gb" in messages[0]


def test_fit_message_names_gpu_source_and_sizes() -> None:
    objs = expert()
    objs[1]["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "serve",
        "meta-llama/Llama-3.1-70B-Instruct",
        "--max-model-len=8192",
    ]
    finding = next(f for f in lint(objs).findings if f.rule == "FIT001")
    assert (
        "L4" in finding.message
        and "nvidia.com/gpu.product=NVIDIA-L4" in finding.message
        and "GiB" in finding.message
    )


def test_gpu_rule_wins_over_the_generic_one_on_engines() -> None:
    objs = expert()
    container = objs[1]["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "HF_TOKEN", "value": "hf_abc"})
    container["image"] = "vllm/vllm-openai:latest"
    fired = {f.rule for f in lint(objs).findings}
    assert {"GPU011", "GPU012"} <= fired and not {"SEC011", "SEC012"} & fired


def test_keda_default_min_replica_count_is_zero() -> None:
    from .cases import KEDA, add, edit

    fired = lint(edit(add(KEDA.replace("  minReplicaCount: MIN\n", "")))()).findings
    assert any(f.rule == "SCALE002" and "default is 0" in f.message for f in fired)


def test_an_engine_exposed_several_ways_is_one_finding_naming_them_all() -> None:
    """One missing API key, one finding: a NodePort Service and an Ingress in front of the same engine."""
    from .cases import edit
    from .cases_more import INGRESS, service

    found = [
        f
        for f in lint(edit(service(type="NodePort"), lambda o: o.append(yaml.safe_load(INGRESS)))()).findings
    ]
    exposed = [f for f in found if f.rule == "NET002"]
    assert len(exposed) == 1
    assert "NodePort Service" in exposed[0].message and "Ingress 'i'" in exposed[0].message


def _fit_plan(args: list[str]) -> Any:
    from kubellm.lint.context import LintContext
    from kubellm.lint.loader import parse_text
    from kubellm.lint.rules.fit import planned

    objs = expert()
    objs[1]["spec"]["template"]["spec"]["containers"][0]["args"] = args
    loaded = parse_text(yaml.safe_dump_all(objs, sort_keys=False), "case.yaml")
    ctx = LintContext(loaded.objects)
    pod = next(p for p in ctx.pods if p.engines)
    found = planned(pod, pod.engines[0], ctx)
    assert found is not None
    return found[0]


def test_fit_rules_plan_an_enforce_eager_engine_without_cuda_graphs() -> None:
    base = ["serve", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len=8192"]
    eager = _fit_plan([*base, "--enforce-eager"])
    assert eager.settings.enforce_eager and eager.memory.cuda_graph_gib == 0
    graphs = _fit_plan(base)
    assert not graphs.settings.enforce_eager and graphs.memory.cuda_graph_gib > 0
    # the engines' parsers take the last spelling: a later --no-enforce-eager captures graphs again
    assert _fit_plan([*base, "--enforce_eager", "--no-enforce-eager"]).memory.cuda_graph_gib > 0
