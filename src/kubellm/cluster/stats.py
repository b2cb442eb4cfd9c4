"""Engine periodic stats lines read as load: queued requests, a full KV cache, preemptions → a performance finding.

vLLM V0 prints ``Running: N reqs, Swapped: N reqs, Pending: N reqs, GPU KV cache usage: X%``; V1 prints
``Running: N reqs, Waiting: N reqs, GPU KV cache usage: X%``; SGLang prints ``#running-req: N, #queue-req: N,
token usage: 0.xx``. One busy sample is normal; requests waiting in most samples of the log is overload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubellm.cluster.findings import Finding
from kubellm.cluster.logtext import LogLine

_VLLM = re.compile(
    r"Running: (?P<running>\d+) reqs?,.*?(?:Pending|Waiting): (?P<waiting>\d+) reqs?,.*?GPU KV cache usage: "
    r"(?P<kv>[\d.]+)%",
    re.I,
)
_SGLANG = re.compile(
    r"#running-req: (?P<running>\d+), #queue-req: (?P<waiting>\d+)(?:.*?token usage: (?P<kv>[\d.]+))?"
)
_PREEMPT = re.compile(
    r"(?:preempted|preemption)\b.*?(?:due to insufficient KV cache space|total num_cumulative)", re.I
)
KV_FULL_PCT = 90.0
MIN_SAMPLES = 2


@dataclass(frozen=True, slots=True)
class LoadSample:
    running: int
    waiting: int
    kv_pct: float | None


def samples(lines: list[LogLine]) -> list[LoadSample]:
    found = []
    for line in lines:
        vllm = _VLLM.search(line.message)
        if vllm:
            found.append(LoadSample(int(vllm["running"]), int(vllm["waiting"]), float(vllm["kv"])))
            continue
        sglang = _SGLANG.search(line.message)
        if sglang:
            kv = float(sglang["kv"]) * 100 if sglang["kv"] else None
            found.append(LoadSample(int(sglang["running"]), int(sglang["waiting"]), kv))
    return found


def stats_findings(lines: list[LogLine], obj: str) -> list[Finding]:
    """A performance finding when requests wait in most stats samples (and there are at least two)."""
    loads = samples(lines)
    queued = [s for s in loads if s.waiting > 0]
    if len(loads) < MIN_SAMPLES or len(queued) * 2 < len(loads):
        return []
    peak = max(queued, key=lambda s: s.waiting)
    kv_values = [s.kv_pct for s in loads if s.kv_pct is not None]
    kv_max = max(kv_values) if kv_values else None
    preempted = any(_PREEMPT.search(line.message) for line in lines)
    evidence = (
        f"{len(queued)} of {len(loads)} stats samples show waiting requests (peak {peak.waiting} waiting, "
        f"{peak.running} running)"
        + (f", GPU KV cache usage up to {kv_max:.0f}%" if kv_max is not None else "")
        + (", requests preempted" if preempted else "")
    )
    if (kv_max is not None and kv_max >= KV_FULL_PCT) or preempted:
        cause = (
            "The replica is overloaded: its KV cache is full, so new requests wait and running ones are preempted "
            "and recomputed."
        )
        fix = (
            "Add replicas (scaling.max_replicas, or a lower scaling.target so the autoscaler acts sooner), use "
            "serving.kv_cache_dtype: fp8 to double the cache, or lower serving.max_model_len."
        )
        field = "scaling.max_replicas"
    else:
        cause = (
            "Requests queue while the KV cache has room: the engine's batch caps (max-num-seqs, max-num-batched-tokens)"
            " are reached before the memory is."
        )
        fix = (
            "Raise serving.max_num_seqs (and max_num_batched_tokens), or add replicas (scaling.max_replicas)."
        )
        field = "serving.max_num_seqs"
    return [Finding("DOC044", "performance", "warning", obj, evidence, cause, fix, field)]
