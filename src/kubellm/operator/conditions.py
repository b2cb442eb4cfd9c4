"""The six conditions of an LLMService, from the plan, the observed objects and the doctor's findings (pure).

- ``Planned``: the spec is valid and the model fits (else the plan's reason, nothing rendered);
- ``Scheduled``: every pod of the service is on a node (else the scheduler's reason, read by the doctor);
- ``ModelReady``: the weights are downloaded and verified (else bytes and a percentage, or why it failed);
- ``EngineReady``: at least one engine replica answers its readiness probe (else the doctor's finding);
- ``Ready``: every wanted engine replica and the gateway are ready (else the first condition that is not);
- ``Degraded``: a finding that waiting will not fix (crash loop, OOM, KV cache, image, gated model …).

A condition that is not in its good state carries the finding that explains it: its id, a message
with the evidence, and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubellm.cluster.findings import Finding
from kubellm.cluster.hints import INSTANCE_LABEL
from kubellm.cluster.objects import as_list, container_statuses, dig, labels_of, name_of, ref
from kubellm.cluster.snapshot import ENGINE_WORKLOAD_KINDS, ClusterSnapshot
from kubellm.cluster.status import FATAL_CATEGORIES
from kubellm.operator.download import DownloadProgress, parse_progress

COMPONENT = "app.kubernetes.io/component"
GOOD = {
    "Planned": "True",
    "Scheduled": "True",
    "ModelReady": "True",
    "EngineReady": "True",
    "Ready": "True",
    "Degraded": "False",
}
REASONS = {
    "scheduling": "Unschedulable", "gpu-oom": "GpuOutOfMemory", "host-oom": "OutOfMemory",
    "driver": "DriverError", "shm": "SharedMemoryTooSmall", "kv-cache": "KvCacheTooSmall",
    "model-access": "ModelAccessDenied", "dtype": "DtypeUnsupported", "probe": "ProbeFailed",
    "disk": "StorageProblem", "runtime": "RuntimeError", "image": "ImagePullFailed",
    "network": "NetworkError", "performance": "Overloaded", "unknown": "EngineError",
}  # fmt: skip
MESSAGE_LIMIT = 1024
DOWNLOAD_CATEGORIES = frozenset({"model-access", "disk", "network", "image", "unknown"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """One condition as computed now (before transition times are kept or set)."""

    type: str
    status: str
    reason: str
    message: str = ""
    finding: str | None = None  # the doctor's finding id
    fix: str | None = None
    spec_field: str | None = None

    @property
    def good(self) -> bool:
        return self.status == GOOD[self.type]


def from_finding(type_: str, status: str, finding: Finding, reason: str | None = None) -> Verdict:
    message = f"{finding.cause} ({finding.evidence})" if finding.evidence else finding.cause
    return Verdict(
        type_,
        status,
        reason or REASONS.get(finding.category, "Problem"),
        message,
        finding.id,
        finding.fix,
        finding.spec_field,
    )


@dataclass(frozen=True, slots=True)
class Observation:
    """The service's objects sorted by what they are, with the findings about each."""

    snap: ClusterSnapshot
    findings: list[Finding]
    service: str

    def pods(self, component: str | None = None) -> list[dict[str, Any]]:
        """The service's pods (the snapshot also holds the GPU stack's), optionally of one component."""
        return [
            p
            for p in self.snap.pods
            if labels_of(p).get(INSTANCE_LABEL) == self.service
            and (component is None or labels_of(p).get(COMPONENT) == component)
        ]

    def workloads(self, kinds: tuple[str, ...], component: str) -> list[dict[str, Any]]:
        return [
            w
            for w in self.snap.workloads
            if w.get("kind") in kinds
            and labels_of(w).get(COMPONENT) == component
            and labels_of(w).get(INSTANCE_LABEL) == self.service
        ]

    def unscheduled(self, component: str | None = None) -> list[dict[str, Any]]:
        return [
            p
            for p in self.pods(component)
            if dig(p, "status", "phase") == "Pending" and not dig(p, "spec", "nodeName")
        ]

    def running_problems(
        self, objects: list[dict[str, Any]], categories: frozenset[str] | None = None
    ) -> list[Finding]:
        """Error findings about objects that are on a node (what waits for a node is Scheduled's to explain)."""
        waiting = {ref(p) for p in self.unscheduled()}
        return [f for f in self.errors_about(objects, categories) if f.object not in waiting]

    def errors_about(
        self, objects: list[dict[str, Any]], categories: frozenset[str] | None = None
    ) -> list[Finding]:
        """Error findings whose object is one of these (by 'Kind/ns/name'), optionally of some categories."""
        refs = {ref(o) for o in objects}
        return [
            f
            for f in self.findings
            if f.severity == "error" and f.object in refs and (categories is None or f.category in categories)
        ]


def planned(
    problem: str | None, reason: str = "Planned", fix: str | None = None, spec_field: str | None = None
) -> Verdict:
    """True with the plan's headline, or False with why the spec cannot be planned and what would fit."""
    if problem is None:
        return Verdict("Planned", "True", reason, "the model fits; objects rendered")
    return Verdict("Planned", "False", reason, problem, fix=fix, spec_field=spec_field)


def scheduled(seen: Observation) -> Verdict:
    pods = seen.pods()
    if not pods:
        return Verdict("Scheduled", "Unknown", "NoPods", "no pods of the service yet")
    waiting = seen.unscheduled()
    if not waiting:
        nodes = sorted({str(dig(p, "spec", "nodeName")) for p in pods if dig(p, "spec", "nodeName")})
        return Verdict(
            "Scheduled", "True", "Scheduled", f"{len(pods)} pod(s) on {', '.join(nodes) or 'nodes'}"
        )
    explained = seen.errors_about(waiting, frozenset({"scheduling", "disk"}))
    if explained:
        return from_finding("Scheduled", "False", explained[0])
    for pod in waiting:
        for cond in as_list(dig(pod, "status", "conditions")):
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                return Verdict(
                    "Scheduled", "False", "Unschedulable", f"{name_of(pod)}: {cond.get('message', '')}"
                )
    return Verdict("Scheduled", "False", "Pending", f"{len(waiting)} pod(s) wait for the scheduler")


def _prefetch_log(snap: ClusterSnapshot, pods: list[dict[str, Any]]) -> str:
    return "\n".join(
        snap.logs_for(str(dig(p, "metadata", "namespace") or ""), name_of(p), "prefetch") for p in pods
    )


def _download_verdict(progress: DownloadProgress, pending: bool) -> Verdict:
    if pending:
        return Verdict(
            "ModelReady", "False", "WaitingForNode", "the download waits for its pod to be scheduled"
        )
    return Verdict("ModelReady", "False", "Downloading", progress.line())


def model_ready(seen: Observation, prefetches: bool) -> tuple[Verdict, DownloadProgress | None]:
    """From the prefetch Job (shared cache) or the prefetch init container of each engine pod."""
    if not prefetches:
        return Verdict("ModelReady", "True", "NoDownload", "the weights are mounted as they are"), None
    jobs = seen.workloads(("Job",), "prefetch")
    job_pods = seen.pods("prefetch")
    progress = parse_progress(_prefetch_log(seen.snap, job_pods or seen.pods("engine")))
    failures = seen.running_problems(job_pods + seen.pods("engine"), DOWNLOAD_CATEGORIES)
    for job in jobs:
        if dig(job, "status", "succeeded"):
            return Verdict("ModelReady", "True", "Verified", "weights downloaded and verified"), progress
        if _job_failed(job):
            if failures:
                return from_finding("ModelReady", "False", failures[0], "DownloadFailed"), progress
            return Verdict(
                "ModelReady",
                "False",
                "DownloadFailed",
                f"Job {name_of(job)} failed: kubectl logs job/{name_of(job)}",
            ), progress
    if jobs:
        if failures:
            return from_finding("ModelReady", "False", failures[0], "DownloadFailing"), progress
        pending = bool(job_pods) and all(not dig(p, "spec", "nodeName") for p in job_pods)
        return _download_verdict(progress, pending), progress
    return _init_download(seen, progress, failures)


def _job_failed(job: dict[str, Any]) -> bool:
    for cond in as_list(dig(job, "status", "conditions")):
        if cond.get("type") == "Failed" and cond.get("status") == "True":
            return True
    return False


def _init_download(
    seen: Observation, progress: DownloadProgress, failures: list[Finding]
) -> tuple[Verdict, DownloadProgress | None]:
    """Per-pod caches: the 'prefetch' init container of the engine pods."""
    pods = seen.pods("engine")
    states = [s for p in pods for s in container_statuses(p, init=True) if s.get("name") == "prefetch"]
    if any(dig(s, "state", "terminated", "exitCode") == 0 for s in states) or any(
        dig(p, "status", "phase") == "Running" for p in pods
    ):
        return Verdict("ModelReady", "True", "Verified", "weights downloaded and verified"), progress
    if failures:
        return from_finding("ModelReady", "False", failures[0], "DownloadFailing"), progress
    if not pods:
        return Verdict(
            "ModelReady", "Unknown", "NoPods", "no engine pod has started its download yet"
        ), progress
    pending = all(not dig(p, "spec", "nodeName") for p in pods)
    return _download_verdict(progress, pending), progress


def replicas(workload: dict[str, Any] | None) -> tuple[int, int]:
    """(ready, desired) of a Deployment, StatefulSet or LeaderWorkerSet (desired 1 when the spec leaves it out)."""
    if workload is None:
        return 0, 0
    desired = dig(workload, "spec", "replicas")
    return int(dig(workload, "status", "readyReplicas") or 0), int(1 if desired is None else desired)


def engine_ready(seen: Observation) -> Verdict:
    workloads = seen.workloads(ENGINE_WORKLOAD_KINDS, "engine")
    ready, desired = replicas(workloads[0] if workloads else None)
    if ready >= 1:
        return Verdict("EngineReady", "True", "Ready", f"{ready}/{desired} engine replica(s) ready")
    if not workloads:
        return Verdict("EngineReady", "False", "NotCreated", "the engine workload does not exist yet")
    if desired == 0:
        return Verdict("EngineReady", "False", "ScaledToZero", "no engine replica runs (scaled to zero)")
    problems = [
        f for f in seen.running_problems(seen.pods("engine") + workloads) if f.category != "scheduling"
    ]
    if problems:
        return from_finding("EngineReady", "False", problems[0])
    return Verdict("EngineReady", "False", "Starting", f"0/{desired} engine replica(s) ready: {_stage(seen)}")


def _stage(seen: Observation) -> str:
    pods = seen.pods("engine")
    if not pods:
        return "no engine pod yet"
    if all(not dig(p, "spec", "nodeName") for p in pods):
        return "waiting for a node"
    if any(
        dig(s, "state", "waiting", "reason") in ("ContainerCreating", "PodInitializing")
        for p in pods
        for s in container_statuses(p) + container_statuses(p, init=True)
    ):
        return "pulling the image"
    if any(dig(p, "status", "phase") == "Running" for p in pods):
        return "loading the model"
    return "starting"


def ready(verdicts: list[Verdict], seen: Observation, gateway: bool, scale_to_zero: bool) -> Verdict:
    engines = seen.workloads(ENGINE_WORKLOAD_KINDS, "engine")
    ready_n, desired = replicas(engines[0] if engines else None)
    gateways = seen.workloads(("Deployment",), "gateway")
    gateway_ok = not gateway or (bool(gateways) and replicas(gateways[0])[0] >= 1)
    if gateway_ok and engines and ((desired > 0 and ready_n >= desired) or (desired == 0 and scale_to_zero)):
        where = "the gateway and " if gateway else ""
        return Verdict("Ready", "True", "Ready", f"{where}{ready_n}/{desired} engine replica(s) ready")
    for verdict in verdicts:
        if verdict.type != "Degraded" and not verdict.good:
            return Verdict(
                "Ready",
                "False",
                verdict.reason,
                f"{verdict.type}: {verdict.message}",
                verdict.finding,
                verdict.fix,
                verdict.spec_field,
            )
    if not gateway_ok:
        return Verdict("Ready", "False", "GatewayNotReady", "the gateway has no ready replica")
    return Verdict("Ready", "False", "ScalingUp", f"{ready_n}/{desired} engine replica(s) ready")


def degraded(seen: Observation, model: Verdict) -> Verdict:
    """A finding about the service's own pods or workloads that waiting will not fix (the GPU stack's
    problems show where they bite: in Scheduled or EngineReady of the pods they keep from running)."""
    owned = seen.pods() + [w for w in seen.snap.workloads if labels_of(w).get(INSTANCE_LABEL) == seen.service]
    fatal = seen.running_problems(owned, FATAL_CATEGORIES)
    if fatal:
        return from_finding("Degraded", "True", fatal[0])
    if model.reason == "DownloadFailed":
        return Verdict(
            "Degraded", "True", "DownloadFailed", model.message, model.finding, model.fix, model.spec_field
        )
    return Verdict("Degraded", "False", "Healthy", "no finding that waiting will not fix")


def clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
