"""The LLMService CRD: valid for the API server, complete, and its CEL rules agree with the spec's validators."""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.errors import SpecError
from kubellm.operator.celrules import RULES
from kubellm.operator.crd import PRINTER_COLUMNS, SCALE, crd, openapi_schema
from kubellm.operator.openapi import violations
from kubellm.render.validation import OLDEST_VERSION, newest_version
from kubellm.spec import LLMService, validate_as

SPEC = {"model": {"source": "hf://Qwen/Qwen2.5-7B-Instruct"}}


@pytest.mark.parametrize("version", [OLDEST_VERSION, newest_version()])
def test_the_crd_validates_against_the_apiextensions_schema(version: str) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(crd(), version, strict=True)


def test_the_schema_is_structural() -> None:
    assert violations(openapi_schema()) == []


def test_every_spec_field_is_in_the_crd_with_its_description() -> None:
    spec = openapi_schema()["properties"]["spec"]["properties"]
    for name, info in LLMService.model_fields.items():
        if name in ("apiVersion", "kind", "metadata"):
            assert name not in spec
            continue
        assert spec[name]["description"] == info.description


def _at(schema: dict[str, Any], json_path: str) -> dict[str, Any]:
    node = schema
    for part in json_path.strip(".").split("."):
        node = node["properties"][part.split("[")[0]]
    return node


def test_printer_columns_and_scale_read_fields_the_schema_has() -> None:
    schema = openapi_schema()
    for column in PRINTER_COLUMNS:
        path = column["jsonPath"]
        if path.startswith(".metadata"):
            continue
        assert _at(schema, path.split("[?")[0])["type"] in ("string", "array")
    assert _at(schema, SCALE["specReplicasPath"])["type"] == "integer"
    assert _at(schema, SCALE["statusReplicasPath"])["type"] == "integer"
    assert _at(schema, SCALE["labelSelectorPath"])["type"] == "string"
    names = [c["name"] for c in PRINTER_COLUMNS]
    assert names[:5] == ["Model", "GPU", "Ready", "Phase", "Age"]
    version = crd()["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}, "scale": SCALE}


# -- CEL rules against the pydantic validators they restate -------------------------------------------------


def _defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the API server does it before validation."""
    if not isinstance(value, dict) or schema.get("type") != "object":
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            return [_defaults(schema["items"], v) for v in value]
        return value
    out = dict(value)
    for name, sub in (schema.get("properties") or {}).items():
        if name not in out and "default" in sub:
            out[name] = copy.deepcopy(sub["default"])
        if name in out:
            out[name] = _defaults(sub, out[name])
    return out


def _without_null(value: Any) -> Any:
    """What CEL sees on the real server: a field set to null is absent (has() is false); checked by hand on
    kube-apiserver 1.36 (mig_profile: null with sharing: mig is refused by the 'needs a profile' rule)."""
    if isinstance(value, dict):
        return {k: _without_null(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_null(v) for v in value]
    return value


def _node(schema: dict[str, Any], obj: Any, path: str) -> tuple[dict[str, Any], Any]:
    for part in filter(None, path.split(".")):
        schema, obj = schema["properties"][part], (obj or {}).get(part) if isinstance(obj, dict) else None
    return schema, obj


ROOT_SCHEMA = openapi_schema()
_ENV = celpy.Environment()
_PROGRAMS = [(rule, _ENV.program(_ENV.compile(rule.rule))) for rule in RULES]


def cel_accepts(name: str, spec: dict[str, Any]) -> bool:
    """Whether every CEL rule passes on the resource, defaulted as the server would."""
    root = ROOT_SCHEMA
    obj = _defaults(
        root,
        _without_null(
            {
                "apiVersion": "kubellm.dev/v1alpha1",
                "kind": "LLMService",
                "metadata": {"name": name},
                "spec": spec,
            }
        ),
    )
    for rule, program in _PROGRAMS:
        _, value = _node(root, obj, rule.path)
        if value is None:
            continue  # the server skips rules on absent (or null) values
        if not bool(program.evaluate({"self": celpy.json_to_cel(value)})):
            return False
    return True


def pydantic_accepts(name: str, spec: dict[str, Any]) -> bool:
    try:
        validate_as(LLMService, {"metadata": {"name": name}, **spec})
    except SpecError:
        return False
    return True


def _with(section: str, **fields: Any) -> dict[str, Any]:
    return {**SPEC, section: fields}


CASES = [
    ("ok", SPEC),
    ("a" * 40, SPEC),
    ("a" * 41, SPEC),
    ("Upper", SPEC),
    ("-dash", SPEC),
    ("ok", _with("scaling", min_replicas=2, max_replicas=2)),
    ("ok", _with("scaling", min_replicas=3, max_replicas=2)),
    ("ok", _with("scaling", min_replicas=3)),
    ("ok", _with("scaling", min_replicas=0)),
    ("ok", _with("scaling", min_replicas=0, scale_to_zero=True)),
    ("ok", _with("scaling", min_replicas=0, scale_to_zero=True, metric="gateway-pending")),
    (
        "ok",
        {
            **SPEC,
            "scaling": {"min_replicas": 0, "scale_to_zero": True, "metric": "gateway-pending"},
            "gateway": {"enabled": False},
        },
    ),
    ("ok", _with("gpu", sharing="mig")),
    ("ok", _with("gpu", sharing="mig", mig_profile="3g.40gb")),
    ("ok", _with("gpu", mig_profile="3g.40gb")),
    ("ok", _with("gpu", mig_profile=None)),
    ("ok", _with("engine", image="vllm/vllm-openai:v0.11.0")),
    ("ok", _with("engine", image="vllm/vllm-openai")),
    ("ok", _with("engine", image="vllm/vllm-openai:latest")),
    ("ok", _with("engine", image="localhost:5000/vllm")),
    ("ok", _with("engine", image="localhost:5000/vllm:v1")),
    ("ok", _with("engine", image="vllm/vllm-openai@sha256:" + "a" * 64)),
    ("ok", _with("engine", image=None)),
    ("ok", {"model": {"source": "hf://Qwen"}}),
    ("ok", {"model": {"source": "hf://Qwen/"}}),
    ("ok", {"model": {"source": "   "}}),
    ("ok", {"model": {"source": "s3://bucket/x"}}),
    ("ok", {"model": {"source": "hf://a/b", "checksums": {"f": "a" * 64}}}),
]


@pytest.mark.parametrize(("name", "spec"), CASES)
def test_each_cel_rule_agrees_with_the_validator_it_restates(name: str, spec: dict[str, Any]) -> None:
    assert cel_accepts(name, spec) == pydantic_accepts(name, spec)


@settings(max_examples=150, deadline=None)
@given(
    low=st.integers(0, 4),
    high=st.integers(1, 4),
    to_zero=st.booleans(),
    metric=st.sampled_from(["queue", "running", "kv-cache", "gateway-pending"]),
    gateway=st.booleans(),
)
def test_the_scaling_rules_agree_with_pydantic_on_every_combination(
    low: int, high: int, to_zero: bool, metric: str, gateway: bool
) -> None:
    spec = {
        **SPEC,
        "scaling": {"min_replicas": low, "max_replicas": high, "scale_to_zero": to_zero, "metric": metric},
        "gateway": {"enabled": gateway},
    }
    assert cel_accepts("svc", spec) == pydantic_accepts("svc", spec)


def test_checksums_must_be_sha256_hex_in_the_schema() -> None:
    pattern = openapi_schema()["properties"]["spec"]["properties"]["model"]["properties"]["checksums"]
    assert pattern["additionalProperties"]["pattern"] == "^[0-9a-f]{64}$"


def test_strings_that_rules_read_are_bounded() -> None:
    spec = openapi_schema()["properties"]["spec"]["properties"]
    assert spec["model"]["properties"]["source"]["maxLength"] > 0
    assert spec["engine"]["properties"]["image"]["maxLength"] > 0
