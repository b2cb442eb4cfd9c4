"""pydantic's JSON Schema → the structural OpenAPI v3 schema a CRD needs."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from kubellm.operator.openapi import SchemaConversionError, structural, violations
from kubellm.operator.status import LLMServiceStatus
from kubellm.spec import LLMService


class Inner(BaseModel):
    """An inner section."""

    size: int = Field(default=3, ge=1, description="How many.")


class Outer(BaseModel):
    """The outer model."""

    ratio: float = Field(default=0.5, gt=0, lt=1, description="A fraction.")
    label: str | None = Field(default=None, description="Optional text.")
    mode: Literal["a", "b"] = Field(default="a", description="One of two.")
    fixed: Literal["only"] = Field(default="only", description="A constant.")
    inner: Inner = Field(default_factory=Inner, description="The inner section, described here.")
    maybe: Inner | None = Field(default=None, description="An optional section.")
    tags: dict[str, str] = Field(default_factory=dict, description="Free labels.")


def test_the_spec_and_the_status_convert_to_structural_schemas() -> None:
    assert violations(structural(LLMService.model_json_schema())) == []
    assert violations(structural(LLMServiceStatus.model_json_schema())) == []


def test_optional_fields_become_nullable_and_lose_their_null_default() -> None:
    label = structural(Outer.model_json_schema())["properties"]["label"]
    assert label == {"type": "string", "nullable": True, "description": "Optional text."}


def test_a_referenced_model_is_inlined_with_the_fields_own_description() -> None:
    inner = structural(Outer.model_json_schema())["properties"]["inner"]
    assert inner["type"] == "object"
    assert inner["description"] == "The inner section, described here."
    assert inner["properties"]["size"] == {
        "type": "integer",
        "minimum": 1,
        "default": 3,
        "description": "How many.",
    }
    assert inner["default"] == {}  # so the server fills size's default when the section is left out


def test_an_optional_section_gets_no_empty_default() -> None:
    maybe = structural(Outer.model_json_schema())["properties"]["maybe"]
    assert maybe["nullable"] is True
    assert "default" not in maybe


def test_exclusive_bounds_take_the_openapi_3_0_form() -> None:
    ratio = structural(Outer.model_json_schema())["properties"]["ratio"]
    assert (ratio["minimum"], ratio["exclusiveMinimum"], ratio["maximum"], ratio["exclusiveMaximum"]) == (
        0,
        True,
        1,
        True,
    )


def test_literals_and_constants_become_enums_and_maps_keep_their_value_type() -> None:
    props = structural(Outer.model_json_schema())["properties"]
    assert props["mode"]["enum"] == ["a", "b"] and props["mode"]["type"] == "string"
    assert props["fixed"]["enum"] == ["only"] and props["fixed"]["type"] == "string"
    assert props["tags"]["additionalProperties"] == {"type": "string"}


def test_forbidden_extras_are_left_to_the_server_not_written_as_additional_properties_false() -> None:
    schema = structural(LLMService.model_json_schema())
    assert LLMService.model_json_schema()["$defs"]["GpuSection"]["additionalProperties"] is False
    assert "additionalProperties" not in schema["properties"]["gpu"]


def test_a_union_of_two_types_has_no_structural_form() -> None:
    class Union2(BaseModel):
        value: int | str = Field(description="Either.")

    with pytest.raises(SchemaConversionError, match="union"):
        structural(Union2.model_json_schema())


def test_a_recursive_model_is_refused() -> None:
    class Node(BaseModel):
        child: Node | None = Field(default=None, description="Below.")

    with pytest.raises(SchemaConversionError, match="recursive"):
        structural(Node.model_json_schema())


def test_violations_names_what_the_server_would_refuse() -> None:
    bad = {
        "type": "object",
        "properties": {"a": {"anyOf": [{"type": "string"}]}, "b": {"type": "number", "exclusiveMinimum": 0}},
    }
    found = violations(bad)
    assert any(".a: anyOf" in f for f in found)
    assert any(".a: type is missing" in f for f in found)
    assert any(".b: exclusiveMinimum must be a boolean" in f for f in found)
