"""Every example renders for every provider and validates strictly (oldest and newest Kubernetes), or is
refused for a reason that provider really has; the provider variants in examples/providers/ render alone and
together, validate and lint clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from render_helpers import EXAMPLES, SERVICE_EXAMPLES, plan_of

from kubellm.catalog.providers import PROVIDER_NAMES
from kubellm.catalog.providers import provider as catalog_provider
from kubellm.errors import UsageError
from kubellm.render import RenderOptions, render, render_services
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects
from kubellm.spec import LLMService, load_spec

VARIANTS = sorted((EXAMPLES / "providers").glob("*.yaml"))


def _on(spec: LLMService, provider: str) -> LLMService:
    data = spec.model_dump(mode="json", exclude_unset=True)
    data.setdefault("placement", {})["provider"] = provider
    if provider == "eks" and not spec.storage.storage_class:
        data.setdefault("storage", {})["storage_class"] = (
            "gp2"  # the fix render names: EKS has no default class
        )
    return LLMService.model_validate(data)


def _valid(objects: list[dict[str, Any]]) -> None:
    for version in (OLDEST_VERSION, newest_version()):
        problems = validate_objects(objects, version)
        assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("example", SERVICE_EXAMPLES, ids=[p.stem for p in SERVICE_EXAMPLES])
def test_every_example_renders_for_every_provider(example: Path, provider: str) -> None:
    spec = _on(load_spec(example), provider)
    plan = plan_of(spec)
    shapes = catalog_provider(provider).instances
    # Refused exactly when the provider has shapes but none with this GPU: no node label could select it.
    offered = not shapes or not plan.on_gpu or any(s.gpu == plan.gpu_spec.name for s in shapes)
    try:
        objects = render(plan, options=RenderOptions())
    except UsageError as err:
        assert not offered and "has no instance shape with this GPU" in err.what, (
            f"{example.stem} on {provider}: {err}"
        )
        return
    assert offered, f"{example.stem} on {provider} rendered a GPU the provider does not offer"
    _valid(objects)


@pytest.mark.parametrize("variant", VARIANTS, ids=[p.stem for p in VARIANTS])
def test_provider_variants_validate_and_lint_clean(variant: Path) -> None:
    from kubellm.lint.finding import Severity
    from kubellm.lint.loader import parse_text
    from kubellm.lint.runner import lint_loaded
    from kubellm.render.output import to_yaml

    spec = load_spec(variant)
    assert spec.placement.provider in variant.stem
    objects = render(plan_of(spec))
    _valid(objects)
    findings = lint_loaded(parse_text(to_yaml(objects), variant.name)).findings
    assert [f for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)] == []
    assert plan_of(spec).instance is not None and plan_of(spec).instance.fits


@pytest.mark.parametrize("provider", ["gke", "aks"])
def test_the_variants_of_one_namespace_render_one_front_door(provider: str) -> None:
    specs = [
        load_spec(p)
        for p in VARIANTS
        if p.stem.startswith(provider) and load_spec(p).metadata.namespace == "llm"
    ]
    assert len(specs) == 2
    objects = render_services([plan_of(s) for s in specs])
    gateways = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-gateway")
    ]
    assert [g["metadata"]["name"] for g in gateways] == ["llm-gateway"]
    _valid(objects)
