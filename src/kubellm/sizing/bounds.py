"""Roofline bounds of one planned replica under a traffic: no simulation, milliseconds to compute.

They prune the search (a replica whose ITL at batch 1 already breaks the SLO never will meet it) and
give the simulation its first guess of the replicas needed:

- ``ttft_idle_ms``: the request overhead plus the prompt's prefill, chunk by chunk, on an idle replica;
- ``itl_ms(b)``: a decode step of ``b`` sequences that also carries a full prefill chunk whenever new
  prompts arrive often enough for one in twenty steps to have one (what a p95 sees);
- ``max_batch``: the most sequences whose ITL stays under the limit and whose KV fits;
- ``replicas``: enough replicas that each one's share of the traffic stays within ``max_batch``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubellm.planning import PerformanceModel, Plan
from kubellm.sizing.traffic import Traffic
from kubellm.spec.service import Slo

ITL_HEADROOM = 0.9  # plan the batch so the estimate stays 10 % under the limit
P95_STEP_SHARE = 0.05  # a prefill chunk in more than 5 % of the steps shows in the ITL p95


@dataclass(frozen=True, slots=True)
class Bounds:
    """What one replica can do for this traffic, by the roofline."""

    ttft_idle_ms: float
    itl_batch1_ms: float
    max_batch: int  # 0: not even one sequence meets the ITL limit
    requests_per_s: float  # per replica at max_batch
    replicas: int  # replicas the traffic needs by this estimate (0 when max_batch is 0)


def _prompt_lengths(traffic: Traffic) -> tuple[int, int]:
    return traffic.prompt_tokens, traffic.output_tokens


def itl_estimate_ms(
    perf: PerformanceModel, batch: int, traffic: Traffic, chunk: int, step_rate: float
) -> float:
    """The p95-relevant decode step of ``batch`` sequences (see the module docstring)."""
    prompt, output = _prompt_lengths(traffic)
    context = batch * (prompt + output // 2)
    plain = perf.step_ms(0, batch, context)
    # prefill chunks per second the replica must run, against steps per second it runs
    chunks_per_s = step_rate * math.ceil(prompt / chunk)
    steps_per_s = 1e3 / plain if plain > 0 else math.inf
    if chunks_per_s >= P95_STEP_SHARE * steps_per_s:
        return perf.step_ms(min(chunk, prompt), batch, context)
    return plain


def bounds(plan: Plan, traffic: Traffic, slo: Slo) -> Bounds:
    """Roofline bounds of ``plan`` serving ``traffic`` against ``slo``."""
    perf = plan.performance_model
    prompt, output = _prompt_lengths(traffic)
    chunk = plan.settings.max_num_batched_tokens
    ttft_idle = perf.ttft_ms(prompt, chunk)
    itl1 = perf.step_ms(0, 1, prompt + output // 2)  # no prefill riding along: a true lower bound
    kv_room = plan.kv_cache.tokens // max(1, prompt + output)
    ceiling = max(0, min(plan.settings.max_num_seqs, kv_room))
    limit = slo.itl_p95_ms * ITL_HEADROOM
    best = 0
    lo, hi = 1, ceiling
    while lo <= hi:  # the ITL estimate grows with the batch
        mid = (lo + hi) // 2
        per_replica_rate = _rate_at(perf, mid, traffic, chunk)
        if itl_estimate_ms(perf, mid, traffic, chunk, per_replica_rate) <= limit:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    if best == 0:
        return Bounds(ttft_idle, itl1, 0, 0.0, 0)
    rate = _rate_at(perf, best, traffic, chunk)
    if traffic.concurrency is not None:
        replicas = math.ceil(traffic.concurrency / best)
    elif traffic.rate is not None:
        replicas = math.ceil(traffic.rate / rate) if rate > 0 else 0
    else:
        replicas = 1
    return Bounds(ttft_idle, itl1, best, rate, max(1, replicas))


def _rate_at(perf: PerformanceModel, batch: int, traffic: Traffic, chunk: int) -> float:
    """Requests/s one replica completes with ``batch`` in flight (Little's law on one request's life)."""
    prompt, output = _prompt_lengths(traffic)
    step = perf.step_ms(round(batch * prompt / max(1, output)), batch, batch * (prompt + output // 2))
    life_ms = perf.ttft_ms(prompt, chunk) + max(0, output - 1) * step
    return batch * 1e3 / life_ms if life_ms > 0 else 0.0
