"""Shared helpers of the render tests: plan and render a spec dict or an example file (cached)."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from kubellm.catalog import default_catalog, resolve_model
from kubellm.planning.result import Plan
from kubellm.render import RenderOptions, plan_service, render
from kubellm.spec import LLMService, load_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).parent / "golden"
SERVICE_EXAMPLES = sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "cluster.yaml")
# quickstart.yaml belongs to local mode and changes with it: validated and linted, not pinned.
GOLDEN_EXAMPLES = [p for p in SERVICE_EXAMPLES if p.name != "quickstart.yaml"]

BASE: dict[str, Any] = {
    "metadata": {"name": "svc"},
    "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
    "gpu": {"type": "L4", "count": 1},
    "serving": {"max_model_len": 4096},
    "security": {"hf_token_secret": "hf-token"},
}


def spec_of(**sections: dict[str, Any]) -> LLMService:
    """BASE with sections merged in (section by section, key by key)."""
    data = copy.deepcopy(BASE)
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return LLMService.model_validate(data)


def plan_of(spec: LLMService) -> Plan:
    catalog = default_catalog()
    return plan_service(spec, catalog, resolve_model(spec.model.planning_name, spec.model.config, catalog))


def render_spec(spec: LLMService, **options: Any) -> list[dict[str, Any]]:
    return render(plan_of(spec), options=RenderOptions(**options))


@cache
def _example(path: str) -> list[dict[str, Any]]:
    return render_spec(load_spec(path))


def render_example(path: Path) -> list[dict[str, Any]]:
    """Rendered objects of an example file (a fresh copy; the render itself is cached)."""
    return copy.deepcopy(_example(str(path)))


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name):
            return obj
    raise AssertionError(
        f"no {kind} {name or ''} among {[(o['kind'], o['metadata']['name']) for o in objects]}"
    )


def workload(objects: list[dict[str, Any]], name: str = "svc") -> dict[str, Any]:
    """The engine workload: a Deployment, a StatefulSet (per-replica cache) or a LeaderWorkerSet."""
    for obj in objects:
        if (
            obj["kind"] in ("Deployment", "StatefulSet", "LeaderWorkerSet")
            and obj["metadata"]["name"] == name
        ):
            return obj
    raise AssertionError(
        f"no engine workload {name} among {[(o['kind'], o['metadata']['name']) for o in objects]}"
    )


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod specs of a workload (both templates of a LeaderWorkerSet)."""
    spec = obj["spec"]
    if obj["kind"] == "LeaderWorkerSet":
        lwt = spec["leaderWorkerTemplate"]
        return [lwt["leaderTemplate"]["spec"], lwt["workerTemplate"]["spec"]]
    return [spec["template"]["spec"]]


def engine_container(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod_specs(obj)[0]["containers"] if c["name"] == "engine")
