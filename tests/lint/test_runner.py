"""Suppression (annotation, select/ignore, config files), skipped kinds and finding locations."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubellm.errors import UsageError
from kubellm.lint.config import find_config, load_config
from kubellm.lint.registry import selected

from .cases import ctr, edit, expert, find, lint, lint_yaml, set_path, tp

DATA = Path(__file__).parent / "data"


def _bad() -> list[dict[str, object]]:
    return edit(
        set_path("ctr", "image", "vllm/vllm-openai:latest"), set_path("pod", "runtimeClassName", None)
    )()


def test_annotation_suppresses_listed_ids_and_prefixes() -> None:
    objs = _bad()
    find(objs, "Deployment")["metadata"]["annotations"] = {"kubellm.dev/lint-ignore": "GPU012, GPU01"}
    result = lint(objs)
    assert not {"GPU012", "GPU018"} & {f.rule for f in result.findings}
    assert result.suppressed >= 2


def test_pod_template_annotation_also_suppresses() -> None:
    objs = _bad()
    find(objs, "Deployment")["spec"]["template"]["metadata"]["annotations"] = {
        "kubellm.dev/lint-ignore": "GPU012"
    }
    assert "GPU012" not in {f.rule for f in lint(objs).findings}


def test_select_and_ignore_by_id_or_prefix() -> None:
    assert selected("GPU012", ["GPU"], []) and not selected("SEC001", ["GPU"], [])
    assert not selected("GPU012", [], ["gpu01"]) and selected("GPU020", [], ["GPU01"])
    result = lint(_bad(), select=["GPU"], ignore=["GPU018"])
    assert {f.rule for f in result.findings} == {"GPU012"}


def test_unknown_kinds_are_skipped_with_a_note() -> None:
    result = lint_yaml("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    assert result.findings == [] and "Widget" in result.notes[0]


def test_finding_carries_location_and_fix() -> None:
    objs = edit(tp(2))()
    finding = next(f for f in lint(objs).findings if f.rule == "GPU003")
    assert (finding.kind, finding.namespace, finding.name, finding.container) == (
        "Deployment",
        "llm",
        "llama",
        "vllm",
    )
    assert finding.path == "spec.template.spec.containers[0].resources" and finding.line and finding.line > 10
    assert "2 GPUs" in finding.message and finding.fix


def test_config_yaml_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / ".kubellm.yaml").write_text("lint:\n  ignore: [GPU018, SEC005]\n  strict: true\n  gpu: l4\n")
    config = find_config(tmp_path)
    assert (config.ignore, config.strict, config.gpu) == (["GPU018", "SEC005"], True, "l4")
    other = tmp_path / "proj"
    other.mkdir()
    (other / ".git").mkdir()
    (other / "pyproject.toml").write_text('[tool.kubellm.lint]\nselect = ["GPU", "FIT"]\n')
    assert find_config(other).select == ["GPU", "FIT"]


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / ".kubellm.yaml"
    path.write_text("lint:\n  ignroe: [GPU018]\n")
    with pytest.raises(UsageError, match="ignroe"):
        load_config(path)


def test_duplicate_findings_are_reported_once() -> None:
    objs = expert()
    ctr(objs)["image"] = "vllm/vllm-openai:latest"
    assert sum(1 for f in lint(objs).findings if f.rule == "GPU012") == 1


LWS_TWO_TEMPLATES = """
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: big, namespace: llm}
spec:
  leaderWorkerTemplate:
    size: 2
    leaderTemplate:
      spec:
        containers:
          - name: leader
            image: lmsysorg/sglang:latest
            command: [python3, -m, sglang.launch_server, --model-path, Qwen/Qwen3-8B, --tp, "2", --nnodes, "2"]
            env: [{name: HF_TOKEN, value: hf_abc}]
            resources: {limits: {nvidia.com/gpu: 1}}
    workerTemplate:
      spec:
        containers:
          - name: worker
            image: lmsysorg/sglang:latest
            command: [python3, -m, sglang.launch_server, --model-path, Qwen/Qwen3-8B, --tp, "2", --nnodes, "2"]
            env: [{name: X, value: "1"}, {name: HF_TOKEN, value: hf_abc}]
            resources: {limits: {nvidia.com/gpu: 1}}
"""


def test_leader_and_worker_templates_give_one_finding_per_problem() -> None:
    from kubellm.lint.loader import parse_text
    from kubellm.lint.runner import lint_objects

    result = lint_objects(parse_text(LWS_TWO_TEMPLATES, "lws.yaml").objects)
    for rule in ("GPU011", "GPU012", "GPU010", "GPU030"):
        fired = [f for f in result.findings if f.rule == rule]
        assert len(fired) == 1, rule
        assert "the same in 1 more pod template of this LeaderWorkerSet" in fired[0].message


def _deployment(name: str, namespace: str) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec: {{selector: {{matchLabels: {{app: {name}}}}}, template: {{metadata: {{labels: {{app: {name}}}}}, "
        f"spec: {{containers: [{{name: e, image: 'vllm/vllm-openai:v0.10.1.1', args: [--model, Qwen/Qwen3-0.6B]}}]}}}}}}\n"
    )


def test_net001_once_per_namespace_as_info_unless_exposed() -> None:
    from kubellm.lint.finding import Severity
    from kubellm.lint.loader import parse_text
    from kubellm.lint.runner import lint_objects

    text = "---\n".join([_deployment("a", "one"), _deployment("b", "one"), _deployment("c", "two")])
    quiet = [f for f in lint_objects(parse_text(text, "x.yaml").objects).findings if f.rule == "NET001"]
    assert [(f.namespace, f.severity) for f in quiet] == [("one", Severity.INFO), ("two", Severity.INFO)]
    assert "Deployment/a, Deployment/b" in quiet[0].message
    exposed = (
        text
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: lb, namespace: two}\n"
        + ("spec: {type: LoadBalancer, selector: {app: c}, ports: [{port: 80}]}\n")
    )
    loud = [f for f in lint_objects(parse_text(exposed, "x.yaml").objects).findings if f.rule == "NET001"]
    assert {(f.namespace, f.severity) for f in loud} == {("one", Severity.INFO), ("two", Severity.WARNING)}


def test_fit_rules_read_kubellms_own_weight_path() -> None:
    from kubellm.catalog import default_catalog
    from kubellm.lint.gpu import find_model

    catalog = default_catalog()
    found = find_model(catalog, "/models/hf/meta-llama/Llama-3.1-8B-Instruct/main")
    assert found is not None and found.name == "Llama-3.1-8B"
    assert find_model(catalog, "/models/hf/acme/unknown-model/main") is None
    assert find_model(catalog, "/mnt/models") is None


def _every_case_and_corpus_pod() -> list[tuple[object, object]]:
    """(pod, context) for every pod of every rule case and of both real-manifest corpora."""
    from kubellm.lint.context import LintContext
    from kubellm.lint.loader import load_paths, parse_text
    from kubellm.lint.platforms import KNOWN_KINDS, kind_key

    from .test_rules import FAILING, PASSING

    sets = [load_paths([str(p)]).objects for p in sorted(DATA.glob("*/*.yaml"))]
    for _, _, build in [*FAILING, *PASSING]:
        sets.append(parse_text(yaml.safe_dump_all(build()), "case.yaml").objects)
    found = []
    for objects in sets:
        ctx = LintContext([o for o in objects if kind_key(o) in KNOWN_KINDS])
        found += [(pod, ctx) for pod in ctx.pods]
    return found


def test_rules_skipped_for_pods_without_what_they_need_find_nothing_there() -> None:
    """The runner skips a rule marked needs='engine' for pods without engine containers, and one marked
    needs='gpu' for pods without GPU resources: on every such pod of the cases and corpora, running the
    rule anyway finds nothing (a wrong mark would drop findings silently)."""
    from kubellm.lint.registry import all_rules

    marked = [r for r in all_rules() if r.needs is not None]
    assert {r.needs for r in marked} == {"engine", "gpu"}
    pods = _every_case_and_corpus_pod()
    without = {
        "engine": [(p, c) for p, c in pods if not p.engines],  # type: ignore[attr-defined]
        "gpu": [(p, c) for p, c in pods if not p.uses_gpu],  # type: ignore[attr-defined]
    }
    assert all(len(v) > 40 for v in without.values())
    for rule in marked:
        assert rule.needs is not None
        for pod, ctx in without[rule.needs]:
            assert list(rule.check(pod, ctx)) == [], (rule.meta.id, pod.obj.name)  # type: ignore[attr-defined]
