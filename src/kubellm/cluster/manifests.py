"""The service's objects for apply and delete: plan → render → lint, and what the doctor should expect.

These two calls into ``kubellm.render`` and ``kubellm.lint`` are the only coupling of the cluster
package to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.objects import as_list, pod_spec
from kubellm.cluster.snapshot import ENGINE_WORKLOAD_KINDS
from kubellm.planning.result import Plan
from kubellm.spec import LLMService, load_spec


@dataclass
class ServiceManifests:
    """A spec, its plan, the rendered objects and what lint said about them."""

    spec: LLMService
    plan: Plan
    objects: list[dict[str, Any]]
    lint_errors: list[str] = field(default_factory=list)
    lint_warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.metadata.name

    @property
    def namespace(self) -> str:
        return self.spec.metadata.namespace


def render_service(spec: LLMService) -> tuple[Plan, list[dict[str, Any]]]:
    """plan(spec) and render(plan), as `kubellm render` does."""
    from kubellm.render import plan_service, render

    plan = plan_service(spec)
    return plan, render(plan)


def lint_service(objects: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(errors, warnings) of `kubellm lint` over the rendered objects, one line each."""
    from kubellm.lint.loader import parse_text
    from kubellm.lint.runner import lint_loaded

    text = yaml.safe_dump_all(objects, sort_keys=False)
    result = lint_loaded(parse_text(text, "rendered"))
    errors, warnings = [], []
    for finding in result.findings:
        line = f"{finding.rule} {finding.kind}/{finding.name}: {finding.message} — {finding.fix}"
        if finding.severity.value == "error":
            errors.append(line)
        elif finding.severity.value == "warning":
            warnings.append(line)
    return errors, warnings


def build_manifests(spec_path: str | Path, lint: bool = True) -> ServiceManifests:
    spec = load_spec(spec_path)
    plan, objects = render_service(spec)
    manifests = ServiceManifests(spec, plan, objects)
    if lint:
        manifests.lint_errors, manifests.lint_warnings = lint_service(objects)
    return manifests


def build_group(spec_paths: list[Path], lint: bool = True) -> list[ServiceManifests]:
    """Several specs rendered together (one gateway and one quota per namespace), split by owner: one
    ServiceManifests per service, then one per namespace for what its services share (Namespace, quota,
    shared gateway), named after the namespace. Lint sees the whole set; its findings go to the first."""
    from kubellm.render import plan_service, render_services

    specs = [load_spec(p) for p in spec_paths]
    plans = [plan_service(s) for s in specs]
    objects = render_services(plans)
    owner = {(s.metadata.namespace, s.metadata.name): i for i, s in enumerate(specs)}
    per_service: list[list[dict[str, Any]]] = [[] for _ in specs]
    shared: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or (meta.get("name") if obj.get("kind") == "Namespace" else "")
        instance = (meta.get("labels") or {}).get("app.kubernetes.io/instance")
        index = owner.get((str(namespace), str(instance)))
        if index is not None:
            per_service[index].append(obj)
        else:
            shared.setdefault(str(namespace), []).append(obj)
    group = [ServiceManifests(s, p, o) for s, p, o in zip(specs, plans, per_service, strict=True)]
    for namespace, members in sorted(shared.items()):
        lead = next(m for m in group if m.namespace == namespace)
        front = lead.spec.model_copy(
            update={"metadata": lead.spec.metadata.model_copy(update={"name": namespace})}
        )
        group.insert(0, ServiceManifests(front, lead.plan, members))
    if lint and group:
        group[0].lint_errors, group[0].lint_warnings = lint_service(objects)
    return group


def engine_image(objects: list[dict[str, Any]]) -> str | None:
    for obj in objects:
        if obj.get("kind") in ENGINE_WORKLOAD_KINDS:
            for container in as_list(pod_spec(obj).get("containers")):
                limits = (container.get("resources") or {}).get("limits") or {}
                if any(str(k).startswith("nvidia.com/") for k in limits):
                    return str(container.get("image"))
    return None


def hints_for(manifests: ServiceManifests) -> DoctorHints:
    """What the doctor should expect of this service: namespace, image, GPUs, memory, startup budget."""
    plan, spec = manifests.plan, manifests.spec
    gpu = plan.gpu_spec if plan.on_gpu else None
    products: tuple[str, ...] = ()
    if gpu is not None and spec.gpu.sharing.value != "mig":  # MIG 'single' rewrites the product label
        products = gpu.product_labels
        if spec.gpu.sharing.value in ("time-slicing", "mps"):
            products += tuple(f"{label}-SHARED" for label in gpu.product_labels)
    scaled = spec.scaling.max_replicas > spec.scaling.min_replicas or spec.scaling.scale_to_zero
    return DoctorHints(
        namespace=spec.metadata.namespace,
        service=spec.metadata.name,
        image=engine_image(manifests.objects),
        gpu_resource=plan.resources.gpu_resource or None,
        gpus_per_pod=plan.resources.gpu_count or None,
        host_memory_gib=float(plan.resources.memory_gib),
        startup_budget_s=plan.probes.startup_budget_s,
        runtime_class=spec.gpu.runtime_class,
        autoscaler=spec.scaling.autoscaler if scaled else None,
        gpu_products=products,
        plan=plan,
    )
