"""Output writers: multi-document YAML (same objects, same bytes) and a directory with kustomization.yaml.

A directory is written into a temporary sibling and renamed into place, so an error leaves nothing
behind and a reader never sees half a directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kubellm.errors import UsageError

Obj = dict[str, Any]


# libyaml's emitter when PyYAML has it (same output as the pure-Python one, ~10× faster).
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Block style; multi-line strings (scripts, configs) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump_plain(data: Any) -> str:
    """Plain YAML of config data embedded in objects (gateway config, rules, device-plugin configs)."""
    return yaml.dump(data, Dumper=_BaseDumper, sort_keys=False, default_flow_style=False, width=1000)


def dump(obj: Obj) -> str:
    """One object as YAML (keys in insertion order, which the builders keep stable)."""
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True
    )


def to_yaml(objects: list[Obj]) -> str:
    """Multi-document YAML of the objects, in their order."""
    return "".join("---\n" + dump(o) for o in objects)


def file_name(obj: Obj) -> str:
    """'deployment-llama-8b.yaml' (kind lower-case, then the name)."""
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def kustomization(objects: list[Obj]) -> Obj:
    """Resources in render's apply order; ``fifo`` keeps it (kustomize's default reorders by kind, putting a
    RuntimeClass after the Jobs that use it)."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [file_name(o) for o in objects],
        "sortOptions": {"order": "fifo"},
    }


def write_dir(objects: list[Obj], directory: str | Path, *, force: bool = False) -> list[Path]:
    """Write one file per object plus kustomization.yaml; all or nothing."""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory", "give a new directory path with -o")
    if target.exists() and any(target.iterdir()) and not force:
        raise UsageError(
            f"{target} is not empty", "give a new or empty directory, or pass --force to replace it"
        )
    names = [file_name(o) for o in objects]
    if len(set(names)) != len(names):
        raise UsageError(
            "two objects would share a file name", "report this: object names must be unique per kind"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for obj, name in zip(objects, names, strict=True):
            (staging / name).write_text(dump(obj), encoding="utf-8")
        (staging / "kustomization.yaml").write_text(dump(kustomization(objects)), encoding="utf-8")
        os.chmod(staging, 0o755)
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            os.replace(target, backup)
            os.replace(staging, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [target / n for n in [*names, "kustomization.yaml"]]
