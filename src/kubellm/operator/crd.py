"""The LLMService CustomResourceDefinition, generated from the pydantic spec (`kubellm schema --crd`).

``spec`` is the LLMService spec without its apiVersion, kind and metadata (the custom resource has
Kubernetes' own), in structural form with the defaults, patterns and CEL rules of ``celrules``;
``status`` is ``LLMServiceStatus``. Printer columns show model, GPU, ready/desired replicas, phase
and age; the status and scale subresources are on (``kubectl scale llmservice X --replicas N`` sets
``spec.scaling.min_replicas``, the floor the autoscaler keeps).
"""

from __future__ import annotations

import copy
from typing import Any

from kubellm import __version__
from kubellm.operator.celrules import PATTERNS, RULES
from kubellm.operator.openapi import Schema, structural
from kubellm.operator.status import LLMServiceStatus
from kubellm.spec import LLMService

GROUP = "kubellm.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "LLMService"
PLURAL = "llmservices"
SINGULAR = "llmservice"
SHORT_NAMES = ["llms"]
CRD_NAME = f"{PLURAL}.{GROUP}"
RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")  # the custom resource's own, not the spec's

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Model", "type": "string", "jsonPath": ".status.model", "description": "Model the plan is for."},
    {"name": "GPU", "type": "string", "jsonPath": ".status.gpu", "description": "GPUs per replica."},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": ".status.ready",
        "description": "Ready/desired replicas.",
    },
    {
        "name": "Phase",
        "type": "string",
        "jsonPath": ".status.phase",
        "description": "Where the service stands.",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "Reason",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
        "description": "Why it is not ready (kubectl get -o wide).",
    },
]
SCALE = {
    "specReplicasPath": ".spec.scaling.min_replicas",
    "statusReplicasPath": ".status.replicas",
    "labelSelectorPath": ".status.selector",
}


def _node_at(schema: Schema, path: str) -> Schema:
    """The schema node at a dotted path ('' = root, 'a.b{*}' = b's additionalProperties)."""
    node = schema
    for part in filter(None, path.split(".")):
        name, _, rest = part.partition("{")
        node = node["properties"][name]
        if rest == "*}":
            node = node["additionalProperties"]
    return node


def spec_schema() -> Schema:
    """The LLMService spec (without apiVersion, kind, metadata) in structural OpenAPI v3 form."""
    full = structural(LLMService.model_json_schema())
    properties = {k: v for k, v in full["properties"].items() if k not in RESOURCE_FIELDS}
    required = [r for r in full.get("required", []) if r not in RESOURCE_FIELDS]
    spec: Schema = {
        "type": "object",
        "description": str(full.get("description", "")),
        "properties": properties,
    }
    if required:
        spec["required"] = required
    return spec


def status_schema() -> Schema:
    return structural(LLMServiceStatus.model_json_schema())


def openapi_schema() -> Schema:
    """The whole custom resource's schema, with the CEL rules and patterns attached where they apply."""
    root: Schema = {
        "type": "object",
        "description": "A self-hosted LLM service: planned, rendered, applied and diagnosed by kubellm.",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema(),
            "status": status_schema(),
        },
        "required": ["spec"],
    }
    for path, extra in PATTERNS.items():
        _node_at(root, path).update(copy.deepcopy(extra))
    for rule in RULES:
        _node_at(root, rule.path).setdefault("x-kubernetes-validations", []).append(rule.to_validation())
    return root


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition object (apiextensions.k8s.io/v1)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": "kubellm",
                "app.kubernetes.io/part-of": "kubellm",
                "app.kubernetes.io/version": __version__,
            },
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["kubellm"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema()},
                    "subresources": {"status": {}, "scale": dict(SCALE)},
                    "additionalPrinterColumns": copy.deepcopy(PRINTER_COLUMNS),
                }
            ],
        },
    }
