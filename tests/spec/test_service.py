"""The LLMService spec: defaults, validation errors that name the field, YAML round trip."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.errors import SpecError
from kubellm.spec import LLMService, dump_spec, load_spec, validate_as

MINIMAL = {"metadata": {"name": "llama"}, "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"}}


def test_minimal_spec_gets_careful_defaults() -> None:
    spec = validate_as(LLMService, MINIMAL)
    assert spec.gpu.memory_utilization == 0.90
    assert spec.engine.name == "vllm"
    assert spec.scaling.max_replicas > spec.scaling.min_replicas  # autoscaling on by default
    assert spec.security.run_as_user >= 1
    assert spec.model.source_id == "meta-llama/Llama-3.1-8B-Instruct"


def test_every_field_is_described() -> None:
    def walk(model: type) -> list[str]:
        missing = []
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            if not info.description and name not in ("memory", "kv_cache"):
                missing.append(f"{model.__name__}.{name}")
            annotation = info.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += walk(annotation)
        return missing

    assert walk(LLMService) == []


def test_error_names_path_value_and_fix() -> None:
    data = {**MINIMAL, "gpu": {"count": 0, "memory_utilization": 1.5}}
    with pytest.raises(SpecError) as err:
        validate_as(LLMService, data, "svc.yaml")
    text = str(err.value)
    assert "gpu.count" in text and "got 0" in text
    assert "gpu.memory_utilization" in text and "got 1.5" in text
    assert "svc.yaml" in text


def test_unknown_field_lists_known_ones() -> None:
    with pytest.raises(SpecError) as err:
        validate_as(LLMService, {**MINIMAL, "gpu": {"typ": "h100"}})
    assert "gpu.typ: unknown field" in str(err.value)
    assert "type" in str(err.value)


def test_unpinned_image_is_rejected() -> None:
    with pytest.raises(SpecError, match="not pinned"):
        validate_as(LLMService, {**MINIMAL, "engine": {"image": "vllm/vllm-openai:latest"}})
    ok = validate_as(LLMService, {**MINIMAL, "engine": {"image": "vllm/vllm-openai:v0.10.1.1"}})
    assert ok.engine.image == "vllm/vllm-openai:v0.10.1.1"


def test_scale_to_zero_needs_gateway() -> None:
    data = {**MINIMAL, "scaling": {"min_replicas": 0, "scale_to_zero": True, "metric": "gateway-pending"},
            "gateway": {"enabled": False}}  # fmt: skip
    with pytest.raises(SpecError, match="gateway"):
        validate_as(LLMService, data)


def test_mig_sharing_needs_profile() -> None:
    with pytest.raises(SpecError, match="mig_profile"):
        validate_as(LLMService, {**MINIMAL, "gpu": {"type": "a100-80gb", "sharing": "mig"}})


def test_yaml_round_trip(tmp_path: Path) -> None:
    spec = validate_as(LLMService, {**MINIMAL, "gpu": {"type": "h100", "count": 2}})
    path = tmp_path / "spec.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("metadata:\n  name: x\nmodel: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad.yaml:\d+"):
        load_spec(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["metadata", "model", "gpu", "serving", "bogus"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=5), st.integers()))))  # fmt: skip
def test_arbitrary_input_raises_only_spec_errors(data: dict[str, object]) -> None:
    with contextlib.suppress(SpecError):
        validate_as(LLMService, data)
