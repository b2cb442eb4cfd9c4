"""pydantic's JSON Schema → a Kubernetes structural OpenAPI v3 schema (what a CRD version carries).

The API server accepts only a *structural* schema: every node has a ``type``; no ``$ref``/``$defs``;
no ``anyOf`` except as a pure validation overlay; ``additionalProperties`` never beside
``properties`` and never ``false``; OpenAPI 3.0 spellings (``nullable``, boolean
``exclusiveMinimum``). pydantic writes JSON Schema 2020-12, so this module rewrites it:

- ``$ref`` → the referenced definition, inlined (the description of the field wins over the model's);
- ``anyOf: [X, {type: null}]`` (an ``Optional`` field) → ``X`` with ``nullable: true``;
- ``const`` → a one-value ``enum``; ``exclusiveMinimum: 0`` → ``minimum: 0, exclusiveMinimum: true``;
- ``additionalProperties: false`` (``extra="forbid"``) is dropped: a structural schema prunes or, with
  ``kubectl --validate=strict``, rejects unknown fields on its own;
- ``title`` is dropped (noise in ``kubectl explain``); defaults are kept without ``None`` members, and
  an object field with a default factory gets ``default: {}`` so the server fills its fields' defaults.

Pure: a dict in, a new dict out.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

# JSON Schema keys that a Kubernetes JSONSchemaProps has under the same name and meaning.
_KEPT = frozenset(
    {
        "type", "description", "default", "enum", "format", "pattern", "minimum", "maximum",
        "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
        "multipleOf", "required", "items", "properties", "additionalProperties", "nullable",
        "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-int-or-string",
    }
)  # fmt: skip


class SchemaConversionError(ValueError):
    """A JSON Schema construct that has no structural OpenAPI v3 form."""


def _resolve(ref: str, defs: dict[str, Schema]) -> Schema:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
        raise SchemaConversionError(f"unresolvable $ref {ref!r}")
    return defs[ref[len(prefix) :]]


def _without_none(value: Any) -> Any:
    """A default as the server should store it: ``None`` members left out (absent means unset)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _exclusive(node: Schema, out: Schema) -> None:
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(bound)
        if isinstance(value, bool) or value is None:
            continue
        out[plain] = value
        out[bound] = True


def _nullable_branch(options: list[Schema]) -> Schema | None:
    """The non-null branch of ``anyOf: [X, {type: null}]``; None for any other anyOf."""
    rest = [o for o in options if o.get("type") != "null"]
    if len(rest) == 1 and len(options) == 2:
        return rest[0]
    return None


def convert(node: Schema, defs: dict[str, Schema], seen: tuple[str, ...] = ()) -> Schema:
    """One schema node (and everything below it) in structural OpenAPI v3 form."""
    node = dict(node)
    if "$ref" in node:
        ref = str(node.pop("$ref"))
        if ref in seen:
            raise SchemaConversionError(f"recursive model at {ref!r}: a CRD schema cannot recurse")
        target = convert(_resolve(ref, defs), defs, (*seen, ref))
        merged = {**target, **{k: v for k, v in node.items() if k != "title"}}
        return convert(merged, defs, (*seen, ref)) if "$ref" in merged else _finish(merged, defs, seen)
    if "anyOf" in node:
        branch = _nullable_branch(list(node.pop("anyOf")))
        if branch is None:
            raise SchemaConversionError(
                "a union of several types has no structural form: use one type (or Optional[X])"
            )
        inner = convert(branch, defs, seen)
        merged = {**inner, **{k: v for k, v in node.items() if k != "title"}, "nullable": True}
        if merged.get("default", "") is None:
            del merged["default"]
        return _finish(merged, defs, seen)
    return _finish(node, defs, seen)


def _finish(node: Schema, defs: dict[str, Schema], seen: tuple[str, ...]) -> Schema:
    out: Schema = {}
    if "const" in node:
        out["enum"] = [node["const"]]
        out["type"] = node.get("type") or _type_of(node["const"])
    _exclusive(node, out)
    for key, value in node.items():
        if key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            out[key] = value  # already in OpenAPI 3.0 form (a node converted before)
        if key not in _KEPT or key in out:
            continue
        if key == "properties":
            out["properties"] = {name: convert(sub, defs, seen) for name, sub in value.items()}
        elif key == "items":
            out["items"] = convert(value, defs, seen)
        elif key == "additionalProperties":
            if isinstance(value, dict) and "properties" not in node:
                out["additionalProperties"] = convert(value, defs, seen)
        elif key == "default":
            out["default"] = _without_none(copy.deepcopy(value))
        else:
            out[key] = copy.deepcopy(value)
    if "type" not in out and "enum" in out:
        out["type"] = _type_of(out["enum"][0])
    if "type" not in out:
        raise SchemaConversionError(f"schema node without a type: {sorted(node)}")
    return out


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    raise SchemaConversionError(f"no OpenAPI type for the constant {value!r}")


def default_objects(schema: Schema, required: frozenset[str] = frozenset()) -> Schema:
    """Give every optional object property ``default: {}``, so the server fills in its fields' defaults.

    The server applies a property's default only where its parent exists; without this, a spec that
    leaves out ``scaling`` would be stored without ``scaling.min_replicas`` (and the scale subresource
    and printer columns that read it would show nothing)."""
    out = dict(schema)
    if out.get("type") == "object" and "properties" in out:
        needed = frozenset(out.get("required") or ())
        props = {}
        for name, sub in out["properties"].items():
            sub = default_objects(sub, needed)
            if (
                sub.get("type") == "object"
                and "properties" in sub
                and name not in needed
                and not sub.get("nullable")  # Optional: absent means None, not an empty section
                and not sub.get("required")  # {} would not be valid
            ):
                sub.setdefault("default", {})
            props[name] = sub
        out["properties"] = props
    if out.get("type") == "array" and isinstance(out.get("items"), dict):
        out["items"] = default_objects(out["items"])
    return out


def structural(json_schema: Schema) -> Schema:
    """The whole pydantic model schema (with its ``$defs``) in structural form."""
    defs = dict(json_schema.get("$defs") or {})
    root = {k: v for k, v in json_schema.items() if k != "$defs"}
    return default_objects(convert(root, defs))


def violations(schema: Schema, path: str = "") -> list[str]:
    """What makes a schema non-structural (empty when it is structural): the checks the API server runs."""
    found: list[str] = []
    here = path or "<root>"
    for key in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "const", "title"):
        if key in schema:
            found.append(f"{here}: {key} is not allowed")
    if "type" not in schema and not schema.get("x-kubernetes-int-or-string"):
        found.append(f"{here}: type is missing")
    if "properties" in schema and "additionalProperties" in schema:
        found.append(f"{here}: properties and additionalProperties are mutually exclusive")
    if schema.get("additionalProperties") is False:
        found.append(f"{here}: additionalProperties: false is not allowed")
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        if bound in schema and not isinstance(schema[bound], bool):
            found.append(f"{here}: {bound} must be a boolean (OpenAPI 3.0)")
    for name, sub in (schema.get("properties") or {}).items():
        found += violations(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += violations(schema["items"], f"{path}[*]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += violations(schema["additionalProperties"], f"{path}{{*}}")
    return found
