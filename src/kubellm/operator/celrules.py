"""The spec's checks as the API server runs them: CEL rules and patterns for the LLMService CRD.

Each rule restates one pydantic validator of ``kubellm.spec.service`` (named in ``mirrors``), so that
``kubectl apply`` rejects a bad LLMService at admission with the same message the CLI prints, before
the operator ever sees it. The operator still validates every spec with pydantic (the one authority):
a rule here may only ever be *weaker* than its validator, never stricter. ``tests/operator`` checks
each rule against its validator on boundary cases with a CEL interpreter.

A field set to null counts as absent (``has()`` is false; CEL cannot compare a string with null), and
the server checks each rule against the section's ``default: {}`` too, so every field a rule reads is
guarded with ``has()``. Rules are attached at a path of the CRD's schema ('' = the object root, which alone may read
``self.metadata.name``; 'spec.gpu' = the gpu section). Strings a rule reads carry a ``maxLength`` (the
server refuses rules whose estimated cost is unbounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CelRule:
    """One x-kubernetes-validations entry and the pydantic check it restates."""

    path: str
    rule: str
    message: str
    mirrors: str
    field_path: str | None = None  # where the error points (the server's fieldPath), relative to path

    def to_validation(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"rule": self.rule, "message": self.message}
        if self.field_path:
            entry["fieldPath"] = self.field_path
        return entry


DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

RULES: tuple[CelRule, ...] = (
    CelRule(
        "",
        f"self.metadata.name.size() <= 40 && self.metadata.name.matches('{DNS_LABEL}')",
        "metadata.name must be a DNS label of at most 40 characters (it prefixes every object), e.g. 'llama-8b'",
        "Metadata._dns_label",
    ),
    CelRule(
        "spec",
        "!has(self.scaling.scale_to_zero) || !self.scaling.scale_to_zero || !has(self.gateway.enabled) "
        "|| self.gateway.enabled",
        "scaling.scale_to_zero needs gateway.enabled: true — without the gateway the first request after idle "
        "is dropped",
        "LLMService._cross_section",
        ".scaling.scale_to_zero",
    ),
    CelRule(
        "spec",
        "!has(self.scaling.scale_to_zero) || !self.scaling.scale_to_zero || !has(self.scaling.metric) "
        "|| self.scaling.metric == 'gateway-pending'",
        "scaling.scale_to_zero needs scaling.metric: gateway-pending — engine metrics vanish at zero replicas",
        "LLMService._cross_section",
        ".scaling.metric",
    ),
    CelRule(
        "spec.scaling",
        "!has(self.min_replicas) || !has(self.max_replicas) || self.min_replicas <= self.max_replicas",
        "scaling.min_replicas is above scaling.max_replicas: raise max_replicas",
        "ScalingSection._consistent",
        ".min_replicas",
    ),
    CelRule(
        "spec.scaling",
        "!has(self.min_replicas) || self.min_replicas > 0 || (has(self.scale_to_zero) && self.scale_to_zero)",
        "scaling.min_replicas 0 needs scale_to_zero: true (and the gateway to hold requests)",
        "ScalingSection._consistent",
        ".min_replicas",
    ),
    CelRule(
        "spec.gpu",
        "!has(self.sharing) || self.sharing != 'mig' || (has(self.mig_profile) && self.mig_profile != '')",
        "gpu.sharing 'mig' needs gpu.mig_profile, e.g. '3g.40gb'",
        "GpuSection._mig_needs_profile",
        ".mig_profile",
    ),
    CelRule(
        "spec.gpu",
        "!has(self.mig_profile) || self.mig_profile == '' || (has(self.sharing) && self.sharing == 'mig')",
        "gpu.mig_profile is set but gpu.sharing is not 'mig': set sharing: mig",
        "GpuSection._mig_needs_profile",
        ".sharing",
    ),
    CelRule(
        "spec.model.source",
        "self.matches('[^ \\\\t\\\\n\\\\r\\\\f\\\\v]') && (!self.startsWith('hf://') || self.matches('^hf://.*/'))",
        "model.source must name the weights; an hf:// source needs 'hf://<org>/<name>', e.g. "
        "'hf://Qwen/Qwen2.5-7B-Instruct'",
        "ModelSection._source",
    ),
    CelRule(
        "spec.engine",
        "!has(self.image) || self.image.matches('@sha256:') "
        "|| (self.image.matches(':[^/]*$') && !self.image.endsWith(':latest'))",
        "engine.image is not pinned: add a tested tag (e.g. 'vllm/vllm-openai:v0.10.1.1') or a digest",
        "EngineSection._pinned",
        ".image",
    ),
)

# Plain OpenAPI constraints that restate validators (cheaper than CEL): path → extra schema keys.
PATTERNS: dict[str, dict[str, Any]] = {
    "spec.model.checksums{*}": {"pattern": "^[0-9a-f]{64}$"},
    "spec.model.source": {"maxLength": 2048},
    "spec.engine.image": {"maxLength": 1024},
}
