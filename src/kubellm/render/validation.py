"""Validate rendered objects: built-in kinds against the official Kubernetes schemas (kubernetes-validate,
strict: unknown fields are errors), CRD kinds against the OpenAPI schemas of the projects' CRDs kept in
``schemas/`` (with their source and version), made strict the same way.

Schemas are loaded once per process and version; validating every example takes well under a second.
Heavy imports (jsonschema, kubernetes_validate) happen inside the functions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

Obj = dict[str, Any]

OLDEST_VERSION = "1.29"
KNOWN_NEWEST = "1.37"  # the newest version kubernetes-validate 1.37 ships; used when it is not installed

# (apiVersion, kind) → schema file in kubellm/render/schemas
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication-keda-v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring-v1.json",
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"): "leaderworkerset-leaderworkerset-v1.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproute-gateway-v1.json",
    ("inference.networking.k8s.io/v1", "InferencePool"): "inferencepool-inference-v1.json",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation error: which object, where in it, and what is wrong."""

    kind: str
    name: str
    version: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} (Kubernetes {self.version}): {self.path or '(root)'}: {self.message}"


def newest_version() -> str:
    """The newest Kubernetes version whose schemas kubernetes-validate ships."""
    from kubernetes_validate import utils

    return str(utils.major_minor(utils.latest_version()))


def _schema_dir(version: str) -> tuple[str, Any]:
    from kubernetes_validate import utils

    known = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)]
    if not known:
        from kubellm.errors import UsageError

        raise UsageError(
            f"--k8s-version {version}: older than any schema kubernetes-validate has",
            f"use {utils.major_minor(utils.all_versions()[0])} or newer",
        )
    chosen = known[-1]
    return chosen, resources.files("kubernetes_validate").joinpath(
        "kubernetes-json-schema", f"v{chosen}-local-strict"
    )


@cache
def _builtin_registry(version: str) -> Any:
    from referencing import Registry, Resource

    _, directory = _schema_dir(version)
    definitions = json.loads(directory.joinpath("_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(definitions) @ Registry()


@cache
def _builtin_validator(version: str, api_version: str, kind: str) -> Any:
    import jsonschema  # type: ignore[import-untyped]

    _, directory = _schema_dir(version)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = directory.joinpath(f"{kind.lower()}-{api}.json")
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    from referencing import Resource

    registry = Resource.from_contents(schema) @ _builtin_registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _strict(node: Any) -> Any:
    """Forbid unknown fields wherever the CRD lists its properties (what the API server prunes or rejects)."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def crd_schema_info(file: str) -> Obj:
    """A CRD schema file's data (source, project_version, openAPIV3Schema…)."""
    text = resources.files("kubellm.render").joinpath("schemas", file).read_text(encoding="utf-8")
    data: Obj = json.loads(text)
    return data


@cache
def _crd_validator(file: str) -> Any:
    import jsonschema  # type: ignore[import-untyped]

    schema = _strict(crd_schema_info(file)["openAPIV3Schema"])
    # metadata is checked by the API server, not by the CRD schema.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return jsonschema.Draft202012Validator(schema)


def validate_objects(objects: list[Obj], version: str) -> list[Problem]:
    """Every problem of every object for one Kubernetes version (empty = all valid)."""
    problems: list[Problem] = []
    for obj in objects:
        kind, api = obj.get("kind", "?"), obj.get("apiVersion", "?")
        name = obj.get("metadata", {}).get("name", "?")
        crd = CRD_SCHEMAS.get((api, kind))
        validator = _crd_validator(crd) if crd else _builtin_validator(version, api, kind)
        if validator is None:
            problems.append(Problem(kind, name, version, "", f"no schema for {api} {kind}"))
            continue
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path))):
            path = ".".join(str(p) for p in error.path)
            problems.append(Problem(kind, name, version, path, error.message[:300]))
    return problems
