"""Load specs from YAML, and turn pydantic's errors into messages a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from kubellm.errors import SpecError
from kubellm.spec.service import LLMService

if TYPE_CHECKING:
    from kubellm.spec.gateway import GatewayConfig

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: str | Path) -> Any:
    """Parse one YAML document from ``path`` ('-' is stdin); errors name the file and the line."""
    import sys

    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", "check the path") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory", "give the path of one spec file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text", "give a YAML file") from None
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{where}: malformed YAML ({problem})", "fix the YAML syntax at that line") from None


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.startswith(("function-", "literal[", "union[")) or item in {"str", "int", "float", "bool"}:
            continue  # pydantic's internal branch names are noise to a user
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def _hint_for(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """The description of the field at ``loc``, which says what a right value looks like."""
    current: Any = model
    info = None
    for item in loc:
        if isinstance(item, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or item not in fields:
            break
        info = fields[item]
        annotation = info.annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            break
    return info.description or "" if info is not None else ""


def format_validation_error(exc: ValidationError, model: type[BaseModel], source: str) -> SpecError:
    """One SpecError listing every problem: field path, what was wrong, the bad value, and the fix."""
    lines = []
    first_fix = ""
    for err in exc.errors():
        path = _field_path(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        got = ""
        if err["type"] == "extra_forbidden":
            message = "unknown field"
            known = _known_fields(model, err["loc"][:-1])
            hint = f"known fields here: {', '.join(known)}" if known else ""
        elif err["type"] == "missing":
            message = "required field is missing"
            hint = _hint_for(model, err["loc"])
        else:
            got = f" (got {value!r})" if not isinstance(value, dict | list) else ""
            hint = _hint_for(model, err["loc"])
        lines.append(f"{path}: {message}{got}" + (f" — {hint}" if hint else ""))
        first_fix = first_fix or hint
    what = f"{source}: invalid spec\n  " + "\n  ".join(lines)
    return SpecError(
        what, "fix the fields listed above (`kubellm schema` prints every field with its meaning)"
    )


def _known_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    current: Any = model
    for item in loc:
        if isinstance(item, int):
            continue
        fields = getattr(current, "model_fields", {})
        if item not in fields:
            return []
        annotation = fields[item].annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def validate_as(model: type[M], data: Any, source: str = "spec") -> M:
    """Validate plain data as ``model``, raising a SpecError that names every bad field."""
    if not isinstance(data, dict):
        raise SpecError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}",
            f"start the file with 'apiVersion: kubellm.dev/v1alpha1' and 'kind: {model.__name__}'",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, model, source) from None


def load_spec(path: str | Path) -> LLMService:
    """Read and validate an LLMService spec file."""
    data = read_yaml(path)
    if isinstance(data, dict) and data.get("kind") not in (None, "LLMService"):
        raise SpecError(
            f"{path}: kind {data.get('kind')!r} is not an LLMService",
            "give an LLMService spec (kubellm init writes one)",
        )
    return validate_as(LLMService, data, str(path))


def dump_spec(spec: BaseModel) -> str:
    """The spec as YAML, omitting fields left at their defaults."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data = {"apiVersion": "kubellm.dev/v1alpha1", "kind": type(spec).__name__, **data}
    return yaml.safe_dump(data, sort_keys=False)


def load_gateway_config(path: str | Path) -> GatewayConfig:
    """Read and validate a gateway config YAML file; errors name the bad field and the fix."""
    from kubellm.spec.gateway import GATEWAY_KIND, GatewayConfig

    data = read_yaml(path)
    if isinstance(data, dict) and data.get("kind") not in (None, GATEWAY_KIND):
        raise SpecError(
            f"{path}: kind {data.get('kind')!r} is not a GatewayConfig",
            "give a gateway config (kind: GatewayConfig); `kubellm render` writes one",
        )
    return validate_as(GatewayConfig, data, str(path))
