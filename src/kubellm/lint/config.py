"""Lint settings from `.kubellm.yaml` (key `lint:`) or `pyproject.toml` (`[tool.kubellm.lint]`).

Keys: ``select`` and ``ignore`` (rule ids or prefixes), ``strict`` (warnings fail the run) and ``gpu``
(the GPU to assume when manifests do not say). Command-line flags add to ``select``/``ignore`` and
override the others.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubellm.errors import UsageError

CONFIG_FILES = (".kubellm.yaml", ".kubellm.yml", "pyproject.toml")


@dataclass(slots=True)
class LintConfig:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    strict: bool = False
    gpu: str | None = None
    source: str | None = None


def _ids(value: Any, key: str, source: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    raise UsageError(
        f"{source}: lint.{key} must be a list of rule ids", f"write e.g. {key}: [GPU018, SEC005]"
    )


def _from_mapping(data: Any, source: str) -> LintConfig:
    if data is None:
        return LintConfig(source=source)
    if not isinstance(data, dict):
        raise UsageError(f"{source}: the lint settings must be a mapping", "write `lint: {ignore: [GPU018]}`")
    unknown = set(data) - {"select", "ignore", "strict", "gpu"}
    if unknown:
        raise UsageError(
            f"{source}: unknown lint setting(s) {', '.join(sorted(unknown))}",
            "use select, ignore, strict, gpu",
        )
    gpu = data.get("gpu")
    return LintConfig(
        select=_ids(data.get("select"), "select", source),
        ignore=_ids(data.get("ignore"), "ignore", source),
        strict=bool(data.get("strict", False)),
        gpu=str(gpu) if gpu else None,
        source=source,
    )


def load_config(path: str | Path) -> LintConfig:
    """Settings from one file (.kubellm.yaml or pyproject.toml)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}", "check the --config path") from exc
    if path.name == "pyproject.toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path} is not valid TOML: {exc}", "fix the file") from exc
        return _from_mapping(data.get("tool", {}).get("kubellm", {}).get("lint"), str(path))
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}", "fix the file") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path} must be a mapping with a 'lint' key", "write `lint: {ignore: [GPU018]}`")
    return _from_mapping(data.get("lint"), str(path))


def find_config(start: str | Path = ".") -> LintConfig:
    """The nearest .kubellm.yaml, or pyproject.toml with [tool.kubellm.lint], from ``start`` upwards."""
    directory = Path(start).resolve()
    for folder in (directory, *directory.parents):
        for name in CONFIG_FILES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            config = load_config(candidate)
            if name != "pyproject.toml" or config.select or config.ignore or config.strict or config.gpu:
                return config
        if (folder / ".git").exists():
            break
    return LintConfig()
