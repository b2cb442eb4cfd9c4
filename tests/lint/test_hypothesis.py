"""Arbitrary objects — random YAML-shaped data in Kubernetes clothing — never make the linter raise."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubellm.lint.engines import detect
from kubellm.lint.engines.argv import command_lines
from kubellm.lint.loader import K8sObject, parse_text
from kubellm.lint.platforms import KNOWN_KINDS
from kubellm.lint.runner import lint_objects

from .cases import expert

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, width=32),
    st.text(max_size=12),
    st.sampled_from(["1", "2Gi", "Memory", "/dev/shm", "nvidia.com/gpu", "Always", "--tp=2"]),
)
keys = st.one_of(
    st.sampled_from(
        [
            "containers",
            "initContainers",
            "spec",
            "template",
            "metadata",
            "name",
            "image",
            "args",
            "command",
            "env",
            "value",
            "resources",
            "limits",
            "requests",
            "nvidia.com/gpu",
            "volumes",
            "volumeMounts",
            "emptyDir",
            "medium",
            "sizeLimit",
            "mountPath",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "httpGet",
            "path",
            "port",
            "selector",
            "matchLabels",
            "labels",
            "replicas",
            "strategy",
            "securityContext",
            "nodeSelector",
            "tolerations",
            "data",
            "triggers",
            "predictor",
            "model",
            "leaderWorkerTemplate",
            "workerSpec",
            "scaleTargetRef",
            "metrics",
            "ports",
            "envFrom",
            "configMapRef",
        ]
    ),
    st.text(max_size=6),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)


@st.composite
def k8s_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj = draw(st.dictionaries(keys, values, max_size=6))
    obj["kind"] = draw(st.sampled_from(sorted(KNOWN_KINDS)))
    obj["apiVersion"] = draw(
        st.sampled_from(["v1", "apps/v1", "kubeai.org/v1", "serving.kserve.io/v1beta1", "keda.sh/v1alpha1"])
    )
    if draw(st.booleans()):
        obj["metadata"] = draw(st.one_of(values, st.fixed_dictionaries({"name": st.text(max_size=5)})))
    return obj


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(k8s_objects(), min_size=1, max_size=4))
def test_random_objects_never_raise(objs: list[dict[str, Any]]) -> None:
    result = lint_objects([K8sObject(o, "h.yaml") for o in objs])
    assert all(f.rule and f.message for f in result.findings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_expert_never_raises(data: st.DataObject) -> None:
    objs = expert()
    for obj in objs:
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec:
            key = data.draw(st.sampled_from(sorted(spec)))
            spec[key] = data.draw(values)
    lint_objects([K8sObject(o, "m.yaml") for o in objs])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=20), max_size=8),
    st.lists(st.text(max_size=20), max_size=8),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
def test_argument_parsers_never_raise(command: list[str], args: list[str], env: dict[str, str]) -> None:
    for image in (
        "vllm/vllm-openai:v1",
        "ghcr.io/huggingface/text-generation-inference:2",
        "ollama/ollama:1",
        "x:1",
    ):
        detect(image, command, args, env)
        detect(image, ["sh", "-c"], [" ".join(args)], env)
    command_lines(["bash", "-c"], args, env)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_reports(text: str) -> None:
    result = parse_text(text, "t.yaml")
    assert all(p.file == "t.yaml" for p in result.problems)


def test_yaml_round_trip_of_expert_is_stable() -> None:
    assert yaml.safe_load_all(yaml.safe_dump_all(expert()))
