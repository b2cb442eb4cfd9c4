"""What happened to a pod's containers: OOM kills, evictions, image pulls, config and runtime errors, probes."""

from __future__ import annotations

import re
from typing import Any

from kubellm.cluster.events import EventView, pod_events, view
from kubellm.cluster.findings import Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.logdiagnosis import match_log
from kubellm.cluster.objects import (
    GIB,
    as_list,
    container_statuses,
    dig,
    gib,
    memory_limit_bytes,
    name_of,
    namespace_of,
    pod_spec,
    ref,
)
from kubellm.cluster.scope import event_in_scope
from kubellm.cluster.signatures import startup_phase
from kubellm.cluster.snapshot import ClusterSnapshot

_PROBE_KILL = re.compile(r"failed (startup|liveness) probe, will be restarted", re.I)
_CUDA_REQUIREMENT = re.compile(r"unsatisfied condition: cuda>=(\d+\.\d+)", re.I)


def _containers(pod: dict[str, Any], init: bool) -> dict[str, dict[str, Any]]:
    key = "initContainers" if init else "containers"
    return {str(c.get("name")): c for c in as_list(pod_spec(pod).get(key))}


def _terminated_oom(status: dict[str, Any]) -> bool:
    return "OOMKilled" in (
        dig(status, "lastState", "terminated", "reason"),
        dig(status, "state", "terminated", "reason"),
    )


def oom_kills(pod: dict[str, Any], hints: DoctorHints) -> list[Finding]:
    findings = []
    for init in (False, True):
        specs = _containers(pod, init)
        for status in container_statuses(pod, init):
            if not _terminated_oom(status):
                continue
            name = str(status.get("name"))
            limit = memory_limit_bytes(specs.get(name, {}))
            restarts = status.get("restartCount") if isinstance(status.get("restartCount"), int) else 0
            evidence = f"container {name}{' (init)' if init else ''} OOMKilled (exit 137)"
            evidence += f", restarted {restarts}×" if restarts else ""
            evidence += f", memory limit {gib(limit)}" if limit else ", no memory limit (node memory ran out)"
            need = ""
            if hints.host_memory_gib and limit and limit / GIB < hints.host_memory_gib:
                need = f" The plan needs {hints.host_memory_gib:.0f} GiB of host memory to load the weights."
            cause = (
                "The download/prefetch container ran out of host memory (large files buffered in memory)."
                if init
                else "Host memory ran out while the engine loaded the weights (safetensors are read through host "
                "memory; each tensor-parallel worker holds its shard)." + need
            )
            fix = (
                f"Raise the memory limit of the engine container to at least {hints.host_memory_gib:.0f} GiB"
                if hints.host_memory_gib
                else "Raise the engine container's memory limit to at least the weights per GPU + 8 GiB"
            )
            fix += " (kubellm renders the plan's pod memory; re-render and apply), or use a node type with more memory."
            findings.append(
                Finding(
                    "DOC011" if init else "DOC010", "host-oom", "error", ref(pod), evidence, cause, fix, None
                )
            )
    return findings


def eviction(pod: dict[str, Any]) -> list[Finding]:
    if dig(pod, "status", "reason") != "Evicted":
        return []
    message = str(dig(pod, "status", "message") or "")
    if "ephemeral" not in message.lower():
        return [
            Finding(
                "DOC013",
                "host-oom",
                "warning",
                ref(pod),
                f"Evicted: {message}",
                "The kubelet evicted the pod because the node ran short of memory.",
                "Set the engine's memory request equal to its limit (Guaranteed QoS) so it is evicted last.",
                None,
            )
        ]
    return [
        Finding(
            "DOC012",
            "disk",
            "error",
            ref(pod),
            f"Evicted: {message}",
            "The weights were written to the node's ephemeral storage (container filesystem or an emptyDir) and filled it.",
            "Cache the model on a PVC (storage.model_cache: pvc) with HF_HOME on it, or request ephemeral-storage ≥ "
            "1.5 × the weights.",
            "storage.model_cache",
        )
    ]


def waiting_problems(snap: ClusterSnapshot, pod: dict[str, Any], hints: DoctorHints) -> list[Finding]:
    findings = []
    obj = ref(pod)
    for status in container_statuses(pod) + container_statuses(pod, init=True):
        reason = str(dig(status, "state", "waiting", "reason") or "")
        message = str(dig(status, "state", "waiting", "message") or "")
        last_message = str(dig(status, "lastState", "terminated", "message") or "")
        evidence = f"container {status.get('name')}: {reason}" + (f": {message}" if message else "")
        if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
            findings.append(_image_pull(obj, evidence, message + " " + _pull_event_text(snap, pod)))
        elif reason == "CreateContainerConfigError":
            findings.append(_config_error(obj, evidence, message, hints))
        elif reason in (
            "RunContainerError",
            "CreateContainerError",
            "StartError",
        ) or "nvidia-container-cli" in (message + last_message):
            findings.append(_run_error(obj, evidence, message + " " + last_message))
    for event in pod_events(snap, pod):
        if event.reason == "FailedCreatePodSandBox" and "runtime" in event.message.lower():
            findings.append(_sandbox(obj, event))
    return findings


def _pull_event_text(snap: ClusterSnapshot, pod: dict[str, Any]) -> str:
    return " ".join(e.message for e in pod_events(snap, pod) if e.reason in ("Failed", "BackOff"))


def _image_pull(obj: str, evidence: str, text: str) -> Finding:
    low = text.lower()
    if "toomanyrequests" in low or "rate limit" in low:
        return Finding(
            "DOC032",
            "image",
            "error",
            obj,
            evidence,
            "The registry rate-limits anonymous pulls (Docker Hub: 100 pulls per 6 h per IP).",
            "Mirror the engine image to your registry, or add an imagePullSecret for an authenticated account.",
            "engine.image",
        )
    if any(s in low for s in ("unauthorized", "authentication required", "denied", "403 forbidden")):
        return Finding(
            "DOC031",
            "image",
            "error",
            obj,
            evidence,
            "The registry refused the pull: the image is private and the pod has no pull secret for it.",
            "Create a docker-registry Secret and reference it in imagePullSecrets (or the ServiceAccount).",
            "engine.image",
        )
    if "no space left on device" in low:
        return Finding(
            "DOC014",
            "disk",
            "error",
            obj,
            evidence,
            "The node's image filesystem is full; engine images are 10–20 GB.",
            "Grow the node boot disk (≥ 200 GB on GPU nodes) or prune unused images.",
            None,
        )
    return Finding(
        "DOC030",
        "image",
        "error",
        obj,
        evidence,
        "The image reference does not exist (tag or digest misspelled, or removed from the registry).",
        "Set engine.image to a published tag or digest (docker manifest inspect <image> checks it).",
        "engine.image",
    )


def _config_error(obj: str, evidence: str, message: str, hints: DoctorHints) -> Finding:
    secret = re.search(r'secret "([^"]+)" not found', message)
    if secret:
        return Finding(
            "DOC033",
            "model-access",
            "error",
            obj,
            evidence,
            f"The Secret {secret.group(1)!r} the pod reads (Hugging Face token or API keys) does not exist in the "
            "namespace.",
            f"kubectl create secret generic {secret.group(1)} -n <ns> --from-literal=token=<hf token>, or fix "
            "security.hf_token_secret.",
            "security.hf_token_secret",
        )
    if "runAsNonRoot" in message:
        return Finding(
            "DOC034",
            "runtime",
            "error",
            obj,
            evidence,
            "The pod requires a non-root user but the image runs as root and no runAsUser is set.",
            "Set runAsUser to a UID the image supports (security.run_as_user) with a writable HOME.",
            "security.run_as_user",
        )
    return Finding(
        "DOC039",
        "runtime",
        "error",
        obj,
        evidence,
        "The container cannot be created from its configuration (a missing ConfigMap, Secret key or volume).",
        "kubectl describe pod; create the missing object or fix the reference.",
        None,
    )


def _run_error(obj: str, evidence: str, text: str) -> Finding:
    requirement = _CUDA_REQUIREMENT.search(text)
    if requirement or "driver" in text.lower():
        need = f" (the image needs CUDA ≥ {requirement.group(1)})" if requirement else ""
        return Finding(
            "DOC035",
            "driver",
            "error",
            obj,
            evidence,
            "The NVIDIA container runtime refused to start the container: the node driver is too old or not "
            f"loaded{need}.",
            "Upgrade the node driver (GPU Operator driver.version) or pin an engine image for an older CUDA; check "
            "the nvidia-driver-daemonset pod on that node.",
            "engine.image",
        )
    return Finding(
        "DOC038",
        "runtime",
        "error",
        obj,
        evidence,
        "The container runtime could not start the container.",
        "kubectl describe pod for the full message; check the image's entrypoint and the runtime class.",
        None,
    )


def _sandbox(obj: str, event: EventView) -> Finding:
    return Finding(
        "DOC036",
        "runtime",
        "error",
        obj,
        f"FailedCreatePodSandBox: {event.message}",
        "The runtime handler the pod's RuntimeClass names is not configured in containerd on the node.",
        "Install the NVIDIA container toolkit on the node (the GPU Operator does) or set gpu.runtime_class to a "
        "configured handler.",
        "gpu.runtime_class",
    )


def probe_kills(snap: ClusterSnapshot, pod: dict[str, Any], hints: DoctorHints) -> list[Finding]:
    findings = []
    events = pod_events(snap, pod)
    for container_name, container in _containers(pod, init=False).items():
        kills = [e for e in events if e.reason == "Killing" and _PROBE_KILL.search(e.message)]
        kills = [e for e in kills if container_name in e.message] or (
            kills if len(_containers(pod, False)) == 1 else []
        )
        match = _PROBE_KILL.search(kills[-1].message) if kills else None
        if match is None:
            continue
        probe_kind = match.group(1).lower()
        unhealthy = [e for e in events if e.reason == "Unhealthy"]
        count = sum(e.count for e in kills)
        evidence = f"{kills[-1].message} (×{count})"
        if unhealthy:
            evidence += f"; last: {unhealthy[-1].message}"
        budget = _probe_budget_s(container.get(f"{probe_kind}Probe"))
        evidence += f"; {probe_kind} probe budget {budget} s" if budget is not None else ""
        phase = startup_phase(snap.logs_for(namespace_of(pod), name_of(pod), container_name))
        findings.append(_probe_finding(ref(pod), evidence, probe_kind, phase, container, hints))
    return findings


def _probe_budget_s(probe: Any) -> int | None:
    if not isinstance(probe, dict):
        return None
    values = [
        probe.get(k, d)
        for k, d in (("initialDelaySeconds", 0), ("failureThreshold", 3), ("periodSeconds", 10))
    ]
    if not all(isinstance(v, int) for v in values):
        return None
    return int(values[0]) + int(values[1]) * int(values[2])


def _probe_finding(
    obj: str, evidence: str, kind: str, phase: str | None, container: dict[str, Any], hints: DoctorHints
) -> Finding:
    plan = f" The plan's startup budget is {hints.startup_budget_s} s." if hints.startup_budget_s else ""
    budget_fix = (
        "Give the engine a startupProbe whose initialDelaySeconds + failureThreshold × periodSeconds covers download + "
        "load"
        + (f" (≥ {hints.startup_budget_s} s)" if hints.startup_budget_s else "")
        + "; kubellm renders it from "
        "the plan. Prefetching the weights into the cache PVC shortens the start."
    )
    if phase in ("download", "load"):
        what = "downloading the weights" if phase == "download" else "loading the weights into GPU memory"
        return Finding(
            "DOC020" if phase == "download" else "DOC021",
            "probe",
            "error",
            obj,
            evidence + f"; log shows it was still {what}",
            f"The {kind} probe killed the engine while it was {what}; it restarts and starts over, forever.{plan}",
            budget_fix,
            "storage.model_cache" if phase == "download" else None,
        )
    if kind == "liveness" and "startupProbe" not in container:
        return Finding(
            "DOC021",
            "probe",
            "error",
            obj,
            evidence,
            "The liveness probe runs from the start with no startupProbe, so a slow start is killed." + plan,
            budget_fix,
            None,
        )
    if kind == "liveness":
        return Finding(
            "DOC022",
            "probe",
            "warning",
            obj,
            evidence,
            "A serving engine missed its liveness checks; under load /health can take longer than a 1 s timeout.",
            "Set the liveness probe's timeoutSeconds ≥ 5 and failureThreshold ≥ 3; keep readiness separate from "
            "liveness.",
            None,
        )
    return Finding(
        "DOC020",
        "probe",
        "error",
        obj,
        evidence,
        "The startup probe ran out before the engine was up." + plan,
        budget_fix,
        None,
    )


def log_findings(
    snap: ClusterSnapshot, pod: dict[str, Any], hints: DoctorHints | None = None
) -> list[Finding]:
    """Signature matches in the pod's logs, plus a generic finding for a crash loop nothing explains."""
    findings: list[Finding] = []
    crashing = [
        s
        for s in container_statuses(pod) + container_statuses(pod, init=True)
        if dig(s, "state", "waiting", "reason") == "CrashLoopBackOff"
    ]
    names = [*_containers(pod, init=True), *_containers(pod, init=False)]
    names += [str(s.get("name")) for s in container_statuses(pod) + container_statuses(pod, init=True)]
    unexplained: list[Finding] = []
    for container_name in dict.fromkeys(names):
        text = snap.logs_for(namespace_of(pod), name_of(pod), container_name)
        for finding in match_log(text, ref(pod), plan=hints.plan if hints else None) if text else []:
            (unexplained if finding.category == "unknown" else findings).append(finding)
    if not crashing and not findings:
        findings += unexplained[:1]
    if crashing and not findings:
        status = crashing[0]
        exit_code = dig(status, "lastState", "terminated", "exitCode")
        last = dig(status, "lastState", "terminated", "message") or ""
        findings.append(
            Finding(
                "DOC037",
                "runtime",
                "warning",
                ref(pod),
                f"container {status.get('name')} CrashLoopBackOff, restarted {status.get('restartCount', 0)}×, "
                f"last exit code {exit_code}"
                + (f": {last}" if last else "")
                + (f"; log root cause: {unexplained[0].evidence}" if unexplained else ""),
                "The engine exits soon after start; no known error signature was found"
                + (
                    " in its log."
                    if snap.logs_for(namespace_of(pod), name_of(pod))
                    else " (no log in the dump)."
                ),
                f"kubectl logs -n {namespace_of(pod)} {name_of(pod)} -c {status.get('name')} --previous > engine.log; "
                "kubellm doctor --logs engine.log",
                None,
            )
        )
    return findings


def owner_problems(snap: ClusterSnapshot, hints: DoctorHints) -> list[Finding]:
    """FailedCreate events of ReplicaSets/Jobs (admission rejected the pods: RuntimeClass, quota)."""
    findings = []
    for event in (e for e in map(view, snap.events) if e.reason == "FailedCreate"):
        if not event_in_scope(snap, hints, event):
            continue
        if "RuntimeClass" in event.message:
            findings.append(
                Finding(
                    "DOC108",
                    "runtime",
                    "error",
                    f"{event.kind}/{event.namespace}/{event.name}",
                    f"FailedCreate: {event.message}",
                    "Pods name a RuntimeClass that does not exist, so admission rejects them.",
                    "Install the GPU Operator (RuntimeClass 'nvidia') or set gpu.runtime_class to an existing one.",
                    "gpu.runtime_class",
                )
            )
        elif "exceeded quota" in event.message:
            findings.append(
                Finding(
                    "DOC015",
                    "scheduling",
                    "error",
                    f"{event.kind}/{event.namespace}/{event.name}",
                    f"FailedCreate: {event.message}",
                    "A ResourceQuota in the namespace refuses the pods' requests.",
                    "Raise the namespace ResourceQuota (requests.nvidia.com/gpu, memory) or lower scaling.max_replicas.",
                    "scaling.max_replicas",
                )
            )
    return findings
