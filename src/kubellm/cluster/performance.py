"""Performance from Prometheus samples: idle GPUs while requests queue, a full KV cache, idle replicas.

Metric names: vLLM's /metrics (``vllm:num_requests_waiting``, ``vllm:num_requests_running``,
``vllm:kv_cache_usage_perc``, formerly ``vllm:gpu_cache_usage_perc``) and the DCGM exporter's
``DCGM_FI_DEV_GPU_UTIL`` (percent).
"""

from __future__ import annotations

from kubellm.cluster.findings import Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.snapshot import MetricSample

_WAITING = ("vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size")
_RUNNING = ("vllm:num_requests_running", "sglang:num_running_reqs")
_KV = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage")
_GPU_UTIL = ("DCGM_FI_DEV_GPU_UTIL",)
KV_FULL = 0.9
GPU_IDLE_PCT = 40.0


def _in_scope(sample: MetricSample, hints: DoctorHints) -> bool:
    ns = sample.labels.get("namespace") or sample.labels.get("exported_namespace")
    return not (hints.namespace and ns and ns != hints.namespace)


def _values(samples: list[MetricSample], names: tuple[str, ...], hints: DoctorHints) -> list[float]:
    return [s.value for s in samples if s.name in names and _in_scope(s, hints)]


def check_performance(
    samples: list[MetricSample], hints: DoctorHints, max_num_seqs: int | None = None
) -> list[Finding]:
    if not samples:
        return []
    waiting = _values(samples, _WAITING, hints)
    running = _values(samples, _RUNNING, hints)
    kv = _values(samples, _KV, hints)
    util = _values(samples, _GPU_UTIL, hints)
    if not waiting:
        return []
    queued, busy = sum(waiting), sum(running)
    kv_max = max(kv) if kv else None
    util_avg = sum(util) / len(util) if util else None
    scope = hints.service or hints.namespace or "cluster"
    findings = []
    evidence = (
        f"waiting {queued:g}, running {busy:g}"
        + (f", KV cache usage max {kv_max:.0%}" if kv_max is not None else "")
        + (f", GPU utilization avg {util_avg:.0f}% over {len(util)} GPU(s)" if util_avg is not None else "")
    )
    if queued > 0 and kv_max is not None and kv_max >= KV_FULL:
        findings.append(
            Finding(
                "DOC041",
                "kv-cache",
                "warning",
                scope,
                evidence,
                "The KV cache is full, so new requests wait (and running ones may be preempted and recomputed).",
                "Add replicas (scaling.max_replicas, or a lower scaling.target), use an fp8 KV cache "
                "(serving.kv_cache_dtype: fp8), or lower serving.max_model_len.",
                "scaling.max_replicas",
            )
        )
    elif queued > 0 and util_avg is not None and util_avg < GPU_IDLE_PCT:
        capped = max_num_seqs is not None and running and max(running) >= max_num_seqs
        findings.append(
            Finding(
                "DOC040",
                "performance",
                "warning",
                scope,
                evidence + (f", --max-num-seqs {max_num_seqs}" if capped else ""),
                "Requests queue while the GPUs are mostly idle: the engine's running-sequence cap is reached"
                if capped
                else "Requests queue while the GPUs are mostly idle and the KV cache has room: the engine is capped "
                "(max-num-seqs) or starved by CPU (tokenization, a CPU limit that throttles).",
                "Raise serving.max_num_seqs (the KV cache has room), and give the engine more CPU without a CPU limit.",
                "serving.max_num_seqs",
            )
        )
    elif queued == 0 and busy == 0 and util_avg is not None and util_avg < 5:
        findings.append(
            Finding(
                "DOC042",
                "performance",
                "info",
                scope,
                evidence,
                "The replicas are idle: no requests running or waiting and the GPUs unused.",
                "Lower scaling.min_replicas, or enable scaling.scale_to_zero behind the gateway.",
                "scaling.min_replicas",
            )
        )
    return findings
