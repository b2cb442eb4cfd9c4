"""The operator's reconcile, a pure function: (resource, observed objects and events) → (desired objects, status).

``desired(resource)`` plans and renders: a spec that is invalid or does not fit renders nothing and
says why (``Planned=False`` with the plan's reason and its cheapest change). ``status_of`` reads the
observed objects through the doctor and writes the status: the plan's summary, replicas, download
progress and the six conditions; each condition keeps its ``lastTransitionTime`` while its status
stays, and each change of status or reason becomes one Kubernetes Event. ``reconcile`` is both.
The kopf handlers (``kubellm.operator.handlers``) only read, apply and write what these return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubellm.cluster.doctor import diagnose
from kubellm.cluster.manifests import ServiceManifests, hints_for
from kubellm.cluster.objects import name_of, namespace_of
from kubellm.cluster.selection import NAMESPACE_ADMIN_KINDS
from kubellm.cluster.snapshot import ENGINE_WORKLOAD_KINDS, ClusterSnapshot
from kubellm.errors import KubellmError
from kubellm.operator import conditions as cond
from kubellm.operator.resource import generation_of, owned, service_of
from kubellm.operator.status import CONDITION_TYPES, Condition, Download, LLMServiceStatus, PlanSummary
from kubellm.planning.layout import MIN_AUTO_CONTEXT, ROUTINE_CONCURRENCY
from kubellm.planning.result import Plan
from kubellm.spec import LLMService

# Cluster-scoped objects a spec may render and the operator never writes. Left to the cluster: the
# Namespace (the resource lives in it). Any other refuses the spec (Planned=False, NeedsClusterScope)
# with the fix for its kind: the operator is namespace-scoped by design, and `create` on a
# cluster-scoped kind cannot be narrowed to some names (a PersistentVolume it could create is a
# hostPath any namespace could claim).
LEFT_TO_THE_CLUSTER = frozenset({"Namespace"})
DEPLOY_AS_ADMIN = "deploy this spec with `kubellm apply SPEC` as a cluster admin instead of the operator"
CLUSTER_SCOPED_FIXES = {
    "PersistentVolume": (
        "stream the weights instead: engine.name vllm or sglang (storage.object_store_access: streamer reads "
        "the bucket without a volume); or let a cluster admin create the bucket's PersistentVolume once "
        "(`kubellm render SPEC` prints it with its claim), apply the claim, and set model.source: "
        "pvc://<claim>; or " + DEPLOY_AS_ADMIN
    ),
}


@dataclass(frozen=True, slots=True)
class EventNote:
    """A Kubernetes Event to post about the resource."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Desired:
    """What the resource asks for: its spec and plan, the objects to apply, or why there are none."""

    service: LLMService | None = None
    plan: Plan | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)
    planned: cond.Verdict = field(default_factory=lambda: cond.planned("not planned yet", "Pending"))

    @property
    def ok(self) -> bool:
        return self.planned.good


@dataclass
class Outcome:
    desired: Desired
    status: dict[str, Any]
    events: list[EventNote]


def desired(resource: dict[str, Any]) -> Desired:
    """Plan and render the resource's spec; nothing to apply when it is invalid or does not fit."""
    from kubellm.render import RenderOptions, plan_service, render

    try:
        service = service_of(resource)
    except KubellmError as exc:
        return Desired(planned=cond.planned(exc.what, "InvalidSpec", exc.fix))
    try:
        plan = plan_service(service)
    except KubellmError as exc:
        return Desired(service, planned=cond.planned(exc.what, "PlanFailed", exc.fix))
    if not plan.fits:
        return Desired(service, plan, planned=does_not_fit(plan))
    try:
        objects = render(plan, options=RenderOptions(namespace_object=False))
    except KubellmError as exc:
        return Desired(service, plan, planned=cond.planned(exc.what, "RenderFailed", exc.fix))
    needs_admin = [o for o in objects if not namespace_of(o) and o.get("kind") not in LEFT_TO_THE_CLUSTER]
    if needs_admin:
        return Desired(service, plan, planned=needs_cluster_scope(needs_admin))
    # no Namespace, no quota: the namespace exists (the resource is in it); quotas are its admin's to set
    objects = [o for o in objects if namespace_of(o) and o.get("kind") not in NAMESPACE_ADMIN_KINDS]
    return Desired(service, plan, owned(objects, resource), cond.planned(None))


def needs_cluster_scope(objects: list[dict[str, Any]]) -> cond.Verdict:
    """Planned=False for a spec that renders cluster-scoped objects: the operator writes only namespaced ones."""
    refs = ", ".join(f"{o.get('kind')}/{name_of(o)}" for o in objects)
    kinds = sorted({str(o.get("kind")) for o in objects})
    message = (
        f"the spec renders {refs}, cluster-scoped; the operator writes only namespaced objects "
        "(its ClusterRole grants nothing cluster-scoped to write)"
    )
    fix = "; ".join(dict.fromkeys(CLUSTER_SCOPED_FIXES.get(kind, DEPLOY_AS_ADMIN) for kind in kinds))
    return cond.planned(message, "NeedsClusterScope", fix)


def does_not_fit(plan: Plan) -> cond.Verdict:
    """Planned=False with why the model does not fit and the planner's cheapest change that does."""
    reason = why_not_fits(plan)
    if plan.suggestion is None:
        return cond.planned(cond.clip(reason), "DoesNotFit", "`kubellm plan SPEC` shows the whole plan")
    fix = f"{plan.suggestion.what} ({plan.suggestion.why})"
    message = f"{reason}; the cheapest change that fits: {plan.suggestion.what}"
    return cond.planned(cond.clip(message), "DoesNotFit", fix)


def why_not_fits(plan: Plan) -> str:
    """The plan's figures that make it not fit, in one sentence.

    The planner's warnings stay out: they describe a replica that runs (its concurrency, its headroom),
    which a plan that does not fit has not got; `kubellm plan` prints them."""
    m, kv, par = plan.memory, plan.kv_cache, plan.parallelism
    where = f"{plan.model} on {par.gpus_per_replica}x {plan.gpu} (TP {par.tensor_parallel})"
    if m.kv_cache_gib <= 0:
        return (
            f"{where} does not fit: weights {m.weights_gib:.1f} GiB + activations {m.activation_gib:.1f} GiB per GPU "
            f"leave no KV cache in the engine's budget of {m.budget_gib:.1f} GiB"
        )
    serving = plan.spec.serving
    if not serving.max_model_len and kv.max_model_len == 0:  # no automatic context holds a few requests
        shortest = min(MIN_AUTO_CONTEXT, plan.model_arch.max_position_embeddings)
        wanted = min(serving.target_concurrency, ROUTINE_CONCURRENCY)
        return (
            f"{where} does not fit: the {m.kv_cache_gib:.2f} GiB KV cache per GPU ({kv.blocks:,} blocks of "
            f"{kv.block_size} tokens) holds fewer than {wanted} requests of the shortest automatic "
            f"max_model_len, {shortest:,} tokens"
        )
    return (
        f"{where} does not fit: the KV cache holds {kv.tokens:,} tokens "
        f"({kv.max_concurrency:.2f} requests of max_model_len {kv.max_model_len:,})"
    )


def plan_summary(plan: Plan) -> PlanSummary:
    return PlanSummary(
        fits=plan.fits,
        gpuType=plan.gpu,
        gpusPerReplica=plan.parallelism.gpus_per_replica,
        tensorParallel=plan.parallelism.tensor_parallel,
        maxModelLen=plan.kv_cache.max_model_len,
        kvCacheTokens=plan.kv_cache.tokens,
        maxConcurrency=round(plan.kv_cache.max_concurrency, 2),
        costPerHour=plan.cost.usd_per_hour,
        reason="" if plan.fits else does_not_fit(plan).message,
    )


def _prefetches(want: Desired) -> bool:
    return any(
        o.get("kind") == "Job" and "prefetch" in str(o["metadata"].get("name", "")) for o in want.objects
    ) or any(
        c.get("name") == "prefetch"
        for o in want.objects
        if o.get("kind") in ENGINE_WORKLOAD_KINDS
        for c in ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("initContainers", []) or []
    )


def verdicts(
    want: Desired, snap: ClusterSnapshot, apply_error: str | None = None
) -> tuple[list[cond.Verdict], Any]:
    """The six conditions now, and the download progress (None without a download)."""
    if not want.ok or want.service is None or want.plan is None:
        reason = want.planned.reason
        rest = [cond.Verdict(t, "Unknown", reason, "not planned") for t in CONDITION_TYPES[1:-2]]
        blocked = cond.Verdict(
            "Ready", "False", reason, f"Planned: {want.planned.message}", None, want.planned.fix
        )
        return [
            want.planned,
            *rest,
            blocked,
            cond.Verdict("Degraded", "False", reason, "nothing rendered"),
        ], None
    manifests = ServiceManifests(want.service, want.plan, want.objects)
    findings = diagnose(snap, hints_for(manifests))
    seen = cond.Observation(snap, findings, want.service.metadata.name)
    model, progress = cond.model_ready(seen, _prefetches(want))
    planned = want.planned
    if apply_error:
        planned = cond.Verdict("Planned", "True", "Planned", f"planned, but applying failed: {apply_error}")
    found = [planned, cond.scheduled(seen), model, cond.engine_ready(seen)]
    spec = want.service
    found.append(cond.ready(found, seen, spec.gateway.enabled, spec.scaling.scale_to_zero))
    degraded = cond.degraded(seen, model)
    if apply_error and degraded.good:
        degraded = cond.Verdict("Degraded", "True", "ApplyFailed", apply_error)
    found.append(degraded)
    return found, progress


def phase_of(found: dict[str, cond.Verdict]) -> str:
    if found["Planned"].status != "True":
        return "Invalid" if found["Planned"].reason == "InvalidSpec" else "Unplannable"
    if found["Degraded"].status == "True":
        return "Degraded"
    if found["Ready"].status == "True":
        return "Ready"
    if found["Scheduled"].status == "False" or found["Scheduled"].reason == "NoPods":
        return "Pending"
    if found["ModelReady"].status != "True":
        return "Downloading"
    return "Starting"


def merge_conditions(
    previous: list[dict[str, Any]], found: list[cond.Verdict], generation: int, now: str
) -> tuple[list[Condition], list[EventNote]]:
    """Conditions with their transition times kept while the status stays; one event per change."""
    before = {str(c.get("type")): c for c in previous if isinstance(c, dict)}
    merged: list[Condition] = []
    events: list[EventNote] = []
    for verdict in found:
        old = before.get(verdict.type)
        same = old is not None and old.get("status") == verdict.status
        merged.append(
            Condition(
                type=verdict.type,  # type: ignore[arg-type]
                status=verdict.status,  # type: ignore[arg-type]
                reason=verdict.reason,
                message=cond.clip(verdict.message),
                lastTransitionTime=str(old.get("lastTransitionTime")) if same and old else now,
                observedGeneration=generation,
                finding=verdict.finding if not verdict.good else None,
                fix=verdict.fix if not verdict.good else None,
                specField=verdict.spec_field if not verdict.good else None,
            )
        )
        changed = old is None or not same or (old.get("reason") != verdict.reason and verdict.type != "Ready")
        # (Ready sums up the others: its events say when it comes and goes; its reasons are theirs.)
        first = old is None and (verdict.status == "Unknown" or (verdict.good and verdict.type != "Planned"))
        if changed and not first:  # a new resource announces its plan and what is wrong, not every good state
            kind = "Normal" if verdict.good else "Warning"
            text = f"{verdict.type}={verdict.status}: {verdict.message}"
            if not verdict.good and verdict.fix:
                text += f" — fix: {verdict.fix}"
            events.append(EventNote(kind, verdict.reason, cond.clip(text)))
    return merged, events


def status_of(
    resource: dict[str, Any], want: Desired, snap: ClusterSnapshot, now: str, apply_error: str | None = None
) -> tuple[dict[str, Any], list[EventNote]]:
    """The status subresource and the events for the changes since the resource's last status."""
    found, progress = verdicts(want, snap, apply_error)
    previous = ((resource.get("status") or {}).get("conditions")) or []
    merged, events = merge_conditions(previous, found, generation_of(resource), now)
    engines = cond.Observation(snap, [], name_of(resource)).workloads(ENGINE_WORKLOAD_KINDS, "engine")
    ready_n, desired_n = cond.replicas(engines[0] if engines else None)
    existing = int((engines[0].get("status") or {}).get("replicas") or 0) if engines else 0
    plan = want.plan
    status = LLMServiceStatus(
        observedGeneration=generation_of(resource),
        phase=phase_of({v.type: v for v in found}),  # type: ignore[arg-type]
        model=plan.model if plan else "",
        gpu=f"{plan.parallelism.gpus_per_replica}x {plan.gpu}"
        if plan and plan.on_gpu
        else ("cpu" if plan else ""),
        replicas=existing,
        readyReplicas=ready_n,
        desiredReplicas=desired_n,
        ready=f"{ready_n}/{desired_n}",
        selector=_selector(want),
        plan=plan_summary(plan) if plan else None,
        download=Download(
            bytes=progress.bytes, totalBytes=progress.total_bytes, percent=progress.percent or 0
        )
        if progress is not None and progress.total_bytes
        else None,
        conditions=merged,
    )
    return status.model_dump(mode="json", exclude_none=True), events


def _selector(want: Desired) -> str:
    if want.service is None:
        return ""
    name = want.service.metadata.name
    return f"app.kubernetes.io/instance={name},app.kubernetes.io/component=engine"


def reconcile(
    resource: dict[str, Any], snap: ClusterSnapshot, now: str, apply_error: str | None = None
) -> Outcome:
    """Everything the operator does for one resource, without doing it: objects to apply, status, events."""
    want = desired(resource)
    status, events = status_of(resource, want, snap, now, apply_error)
    return Outcome(want, status, events)
