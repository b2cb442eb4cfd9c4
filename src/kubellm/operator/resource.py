"""The LLMService custom resource and the LLMService spec: one from the other, and its children's owner.

A custom resource carries Kubernetes' own metadata (name, namespace, labels, uid, generation) and
the spec's sections under ``spec``. ``service_of`` builds the spec kubellm plans and renders from it:
the name and namespace are the resource's, its labels (other than the ``app.kubernetes.io/*`` ones
render sets itself) go on every object, and the operator always works inside the resource's
namespace (``namespace_only``: no Namespace object, nothing cluster-scoped, no quota).
"""

from __future__ import annotations

from typing import Any

from kubellm.operator.crd import API_VERSION, KIND
from kubellm.spec import LLMService, validate_as
from kubellm.spec.service import Metadata

RESERVED_LABEL_PREFIX = "app.kubernetes.io/"
# Objects whose owner reference would let the garbage collector delete them with the resource: the
# model cache survives a deleted LLMService unless spec.storage says to purge it (the finalizer does).
KEPT_KINDS = frozenset({"PersistentVolumeClaim"})


def meta(resource: dict[str, Any]) -> dict[str, Any]:
    value = resource.get("metadata")
    return value if isinstance(value, dict) else {}


def name_of(resource: dict[str, Any]) -> str:
    return str(meta(resource).get("name", ""))


def namespace_of(resource: dict[str, Any]) -> str:
    return str(meta(resource).get("namespace", ""))


def generation_of(resource: dict[str, Any]) -> int:
    return int(meta(resource).get("generation") or 0)


def service_data(resource: dict[str, Any]) -> dict[str, Any]:
    """The LLMService document for a custom resource (what `kubellm plan` would read from a file)."""
    labels = {
        str(k): str(v)
        for k, v in (meta(resource).get("labels") or {}).items()
        if not str(k).startswith(RESERVED_LABEL_PREFIX)
    }
    metadata: dict[str, Any] = {"name": name_of(resource), "namespace": namespace_of(resource)}
    if labels:
        metadata["labels"] = labels
    if "namespace_only" in Metadata.model_fields:
        metadata["namespace_only"] = True
    spec = resource.get("spec")
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        **(spec if isinstance(spec, dict) else {}),
    }


def service_of(resource: dict[str, Any]) -> LLMService:
    """The validated spec of a custom resource; a SpecError names every bad field as `kubellm plan` does."""
    where = f"{KIND} {namespace_of(resource)}/{name_of(resource)}"
    return validate_as(LLMService, service_data(resource), where)


def owner_reference(resource: dict[str, Any]) -> dict[str, Any]:
    """The reference that makes the resource its children's controller (garbage-collected with it)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": name_of(resource),
        "uid": str(meta(resource).get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned(objects: list[dict[str, Any]], resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects, each owned by the resource — but the kept kinds (the model cache), which outlive it."""
    reference = owner_reference(resource)
    out = []
    for obj in objects:
        copied = {**obj, "metadata": dict(obj.get("metadata") or {})}
        if obj.get("kind") not in KEPT_KINDS and copied["metadata"].get("namespace"):
            copied["metadata"]["ownerReferences"] = [dict(reference)]
        out.append(copied)
    return out
