"""Engine load from an engine's Prometheus ``/metrics``: waiting, running and KV-cache use.

Names per engine (sources: research/platforms.md, the engines' metric docs):
vLLM ``vllm:num_requests_waiting``, ``vllm:num_requests_running``, ``vllm:kv_cache_usage_perc``
(older ``vllm:gpu_cache_usage_perc``); SGLang ``sglang:num_queue_reqs``, ``sglang:num_running_reqs``,
``sglang:token_usage``; TGI ``tgi_queue_size``, ``tgi_batch_current_size``; llama.cpp
``llamacpp:requests_deferred``, ``llamacpp:requests_processing``. KV use is a fraction 0–1. The gateway
imports only ``kubellm.spec``, so it keeps this copy of the engine tables' names (``kubellm.engines``);
a test holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

WAITING = (
    "vllm:num_requests_waiting",
    "sglang:num_queue_reqs",
    "tgi_queue_size",
    "llamacpp:requests_deferred",
)
RUNNING = (
    "vllm:num_requests_running",
    "sglang:num_running_reqs",
    "tgi_batch_current_size",
    "llamacpp:requests_processing",
)
KV_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage")


@dataclass(frozen=True, slots=True)
class EngineLoad:
    """The three gauges a load-aware router needs, summed over the engine's label sets (KV: max)."""

    waiting: float = 0.0
    running: float = 0.0
    kv_usage: float = 0.0


def parse_engine_load(text: str) -> EngineLoad:
    """Read waiting, running and KV use from Prometheus text; unknown names are ignored."""
    waiting = running = kv = 0.0
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name_end = min((i for i in (line.find("{"), line.find(" ")) if i >= 0), default=-1)
        if name_end <= 0:
            continue
        name = line[:name_end]
        if name not in WAITING and name not in RUNNING and name not in KV_USAGE:
            continue
        rest = line[name_end:]
        if rest[0] == "{":
            rest = rest[rest.rfind("}") + 1 :]
        try:
            value = float(rest.split()[0])
        except (ValueError, IndexError):
            continue
        if value != value:  # NaN
            continue
        if name in WAITING:
            waiting += value
        elif name in RUNNING:
            running += value
        else:
            kv = max(kv, value)
    return EngineLoad(waiting, running, min(kv, 1.0))
