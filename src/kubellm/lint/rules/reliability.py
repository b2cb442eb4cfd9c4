"""REL rules: probes, resources, disruption budgets, spread, selectors and ports of any workload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.context import LintContext, selector_matches
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.registry import rule
from kubellm.lint.workload import ContainerView, PodView, as_dict, as_list

SERVING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "LeaderWorkerSet", "ReplicaSet"})


def _long_running(pod: PodView) -> list[ContainerView]:
    if pod.obj.kind not in SERVING_KINDS and pod.obj.kind != "ServingRuntime":
        return []
    if pod.obj.kind == "LeaderWorkerSet" and pod.role == "worker":
        return []
    return pod.main


@rule(
    "REL001",
    "readiness-probe-missing",
    Severity.WARNING,
    "A serving container has no readiness probe",
    why="Without readiness the Service sends traffic as soon as the process starts — for an LLM engine, minutes "
    "before the model is loaded.",
    fix="Add a readinessProbe on the server's health endpoint.",
    bad="containers: [{name: server, image: vllm/vllm-openai:v0.10.1.1}]",
    good="readinessProbe: {httpGet: {path: /health, port: 8000}}",
)
def readiness_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in _long_running(pod):
        if c.probe("readinessProbe") is None and (c.engine is not None or c.data.get("ports")):
            yield Hit(f"container {c.name!r} has no readinessProbe", c.path, c.name)


@rule(
    "REL002",
    "liveness-probe-missing",
    Severity.INFO,
    "A serving container has no liveness probe",
    why="A hung server (a stuck NCCL collective, a deadlocked scheduler) is never restarted.",
    fix="Add a livenessProbe (gated by a startupProbe for slow starters).",
    bad="containers: [{name: server, readinessProbe: {...}}]",
    good="livenessProbe: {httpGet: {path: /health, port: 8000}, timeoutSeconds: 5}",
)
def liveness_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in _long_running(pod):
        if c.probe("livenessProbe") is None and (c.engine is not None or c.data.get("ports")):
            yield Hit(f"container {c.name!r} has no livenessProbe", c.path, c.name)


def _memory_set(c: ContainerView) -> bool:
    return bool(c.requests.get("memory") or c.limits.get("memory"))


def _cpu_set(c: ContainerView) -> bool:
    return bool(c.requests.get("cpu") or c.limits.get("cpu"))


@rule(
    "REL003",
    "cpu-request-missing",
    Severity.WARNING,
    "A container sizes its memory but requests no CPU",
    why="Without a CPU request the pod is BestEffort on CPU: tokenisation, detokenisation and the engine "
    "scheduler starve on a busy node, and GPU time is wasted waiting. (A container that sizes nothing at all is "
    "reported once, by REL004 or GPU010.)",
    fix="Request the CPU the container needs (LLM engines: a few cores per GPU); a CPU limit is optional.",
    bad="resources: {requests: {memory: 32Gi}, limits: {memory: 32Gi, nvidia.com/gpu: 1}}",
    good="resources: {requests: {cpu: '8', memory: 32Gi}, limits: {memory: 32Gi, nvidia.com/gpu: 1}}",
)
def cpu_request_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.template:
        return
    for c in pod.main:
        if not _cpu_set(c) and _memory_set(c):
            yield Hit(f"container {c.name!r} has no CPU request", f"{c.path}.resources", c.name)


@rule(
    "REL004",
    "memory-request-missing",
    Severity.WARNING,
    "A (non-engine) container requests no memory",
    why="The scheduler places the pod as if it needed no memory; it is the first to be evicted under pressure. "
    "(Engines are covered by GPU010.)",
    fix="Request the memory (and CPU) the container needs.",
    bad="resources: {requests: {cpu: '1'}}",
    good="resources: {requests: {cpu: '1', memory: 2Gi}}",
)
def memory_request_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.template:
        return
    for c in pod.main:
        if c.engine is None and not _memory_set(c):
            also = " or CPU" if not _cpu_set(c) else ""
            yield Hit(f"container {c.name!r} requests no memory{also}", f"{c.path}.resources", c.name)


@rule(
    "REL005",
    "memory-limit-missing",
    Severity.WARNING,
    "A (non-engine) container requests memory but has no memory limit",
    why="A leak takes the node's memory and OOM-kills its neighbours. (Engines are covered by GPU010; a container "
    "with no memory settings at all by REL004.)",
    fix="Set `resources.limits.memory`.",
    bad="resources: {requests: {memory: 1Gi}}",
    good="resources: {requests: {memory: 1Gi}, limits: {memory: 1Gi}}",
)
def memory_limit_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.template:
        return
    for c in pod.main:
        if c.engine is None and c.requests.get("memory") and not c.limits.get("memory"):
            yield Hit(f"container {c.name!r} has no memory limit", f"{c.path}.resources", c.name)


def _pdbs_for(ctx: LintContext, pod: PodView) -> list[K8sObject]:
    return [
        pdb
        for pdb in ctx.by_kind("PodDisruptionBudget")
        if pod.all_labels and selector_matches(as_dict(pdb.spec.get("selector")), pod.all_labels)
    ]


@rule(
    "REL006",
    "pdb-missing",
    Severity.INFO,
    "A replicated workload has no PodDisruptionBudget",
    why="Node drains (upgrades, autoscaler scale-down) may evict every replica at once; for GPU models the "
    "replacements take minutes to load.",
    fix="Add a PodDisruptionBudget with `maxUnavailable: 1` selecting the pods.",
    bad="kind: Deployment\nspec: {replicas: 3}   # no PDB",
    good="kind: PodDisruptionBudget\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: llm}}}",
)
def pdb_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if (pod.replicas or 1) > 1 and not _pdbs_for(ctx, pod):
        yield Hit(f"{pod.replicas} replicas and no PodDisruptionBudget selects them", "spec.replicas")


@rule(
    "REL007",
    "spread-missing",
    Severity.INFO,
    "Replicas may all land on one node or zone",
    why="Without anti-affinity or topology spread, replicas pile onto one node; losing it loses the service.",
    fix="Add `topologySpreadConstraints` on kubernetes.io/hostname (or topology.kubernetes.io/zone).",
    bad="spec: {replicas: 3}   # no topologySpreadConstraints",
    good="topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: llm}}}]",
)
def spread_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if (pod.replicas or 1) <= 1:
        return
    anti = as_dict(as_dict(pod.spec.get("affinity")).get("podAntiAffinity"))
    if not anti and not pod.spec.get("topologySpreadConstraints"):
        yield Hit(f"{pod.replicas} replicas without podAntiAffinity or topologySpreadConstraints", pod.path)


@rule(
    "REL008",
    "grace-period-zero",
    Severity.WARNING,
    "terminationGracePeriodSeconds is 0",
    why="The pod is killed without SIGTERM handling: in-flight requests are cut and caches are not flushed.",
    fix="Give the pod time to drain (30 s or more; LLM engines 120 s with a preStop).",
    bad="spec: {terminationGracePeriodSeconds: 0}",
    good="spec: {terminationGracePeriodSeconds: 120}",
    mistakes=("M29",),
)
def grace_period_zero(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.spec.get("terminationGracePeriodSeconds") == 0:
        yield Hit("terminationGracePeriodSeconds is 0", f"{pod.path}.terminationGracePeriodSeconds")


@rule(
    "REL009",
    "selector-mismatch",
    Severity.ERROR,
    "The workload's selector does not match its pod template labels",
    why="The API server rejects it (`selector does not match template labels`), or the controller never owns its pods.",
    fix="Make `spec.selector.matchLabels` a subset of `spec.template.metadata.labels`.",
    bad="selector: {matchLabels: {app: a}}\ntemplate: {metadata: {labels: {app: b}}}",
    good="selector: {matchLabels: {app: a}}\ntemplate: {metadata: {labels: {app: a}}}",
)
def selector_mismatch(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.obj.kind not in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return
    selector = as_dict(pod.obj.spec.get("selector"))
    if selector and not selector_matches(selector, pod.labels):
        yield Hit("spec.selector does not match the pod template labels", "spec.selector")


def _replicas_of(ctx: LintContext, pdb: K8sObject) -> int | None:
    selector = as_dict(pdb.spec.get("selector"))
    counts = [p.replicas for p in ctx.pods_selected(selector, pdb.namespace) if p.replicas is not None]
    return sum(counts) if counts else None


@rule(
    "REL010",
    "pdb-blocks-eviction",
    Severity.WARNING,
    "A PodDisruptionBudget allows no voluntary eviction",
    why="`maxUnavailable: 0`, or `minAvailable` ≥ replicas, blocks every node drain: cluster upgrades hang.",
    fix="Use `maxUnavailable: 1` (or minAvailable below the replica count).",
    bad="kind: PodDisruptionBudget\nspec: {maxUnavailable: 0}",
    good="kind: PodDisruptionBudget\nspec: {maxUnavailable: 1}",
    scope="object",
    kinds=("PodDisruptionBudget",),
)
def pdb_blocks_eviction(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    spec = obj.spec
    if str(spec.get("maxUnavailable", "")).strip() in ("0", "0%"):
        yield Hit("maxUnavailable is 0: no pod can ever be evicted", "spec.maxUnavailable")
        return
    min_available: Any = spec.get("minAvailable")
    if str(min_available).strip() == "100%":
        yield Hit("minAvailable is 100%: no pod can ever be evicted", "spec.minAvailable")
    elif isinstance(min_available, int):
        replicas = _replicas_of(ctx, obj)
        if replicas is not None and min_available >= replicas:
            yield Hit(
                f"minAvailable {min_available} ≥ the {replicas} replica(s) it selects", "spec.minAvailable"
            )


@rule(
    "REL011",
    "duplicate-env",
    Severity.WARNING,
    "An environment variable is set twice in one container",
    why="Only the last value counts; the first one silently does nothing (a common Helm-merge accident).",
    fix="Keep one entry per name.",
    bad="env: [{name: HF_HOME, value: /a}, {name: HF_HOME, value: /b}]",
    good="env: [{name: HF_HOME, value: /b}]",
)
def duplicate_env(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        seen: set[str] = set()
        for i, item in enumerate(as_list(c.data.get("env"))):
            name = str(as_dict(item).get("name") or "")
            if name in seen:
                yield Hit(f"env {name} is set more than once in {c.name!r}", f"{c.path}.env[{i}]", c.name)
            seen.add(name)


def _declared_ports(c: ContainerView) -> tuple[set[str], set[int]]:
    names: set[str] = set()
    numbers: set[int] = set()
    for port in as_list(c.data.get("ports")):
        port = as_dict(port)
        if port.get("name"):
            names.add(str(port["name"]))
        if isinstance(port.get("containerPort"), int):
            numbers.add(port["containerPort"])
    return names, numbers


@rule(
    "REL012",
    "probe-port-unknown",
    Severity.WARNING,
    "A probe targets a named port the container does not declare",
    why="A probe on an unknown port name can never succeed: the pod never becomes ready (or is restarted forever).",
    fix="Use a port name from the container's `ports`, or the number.",
    bad="ports: [{name: http, containerPort: 8000}]\nreadinessProbe: {httpGet: {path: /health, port: web}}",
    good="readinessProbe: {httpGet: {path: /health, port: http}}",
)
def probe_port_unknown(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        names, _ = _declared_ports(c)
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.probe(kind)
            if probe is None:
                continue
            port = as_dict(probe.get("httpGet") or probe.get("tcpSocket")).get("port")
            if isinstance(port, str) and not port.isdigit() and port not in names:
                yield Hit(
                    f"{kind} uses port {port!r}, which {c.name!r} does not declare",
                    f"{c.path}.{kind}",
                    c.name,
                )
