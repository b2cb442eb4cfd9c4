"""Virtual time: replay an arrival trace through the engine core without sleeping.

The clock jumps from step to step (and across idle gaps to the next arrival). Runs of pure-decode
steps with nothing to change them are applied many at a time; the step time of a decode batch is
linear in its context, so the total of ``k`` steps is exact for a linear timer and within a
fraction of a percent for the planner's roofline.

Metrics follow the benchmark's definitions (DESIGN.md, Bench): TTFT = arrival → first token;
ITL = every gap between consecutive tokens of a request, pooled over requests; TPOT = (E2E − TTFT) /
(output tokens − 1) per request; output throughput = output tokens / (last finish − first arrival).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubellm.sim.arrivals import Arrivals
from kubellm.sim.config import SimConfig
from kubellm.sim.core import SimCore
from kubellm.sim.scheduler import SimRequest, StepResult
from kubellm.sim.stats import latency_stats_ms, weighted_latency_stats_ms
from kubellm.sim.timing import StepTimer
from kubellm.sim.trace import TraceRequest
from kubellm.spec.bench import tpot_s


@dataclass(slots=True)
class Sample:
    """Engine state at one moment (for autoscaling studies)."""

    t_s: float
    running: int
    waiting: int
    kv_usage: float


@dataclass(slots=True)
class VirtualReport:
    """What a replay measured; :meth:`summary` is the table the CLI prints."""

    requests: list[SimRequest]
    itl_values_s: list[float]
    itl_weights: list[float]
    steps: int
    fast_forward_steps: int
    preemptions: int
    wall_s: float
    cpu_s: float
    samples: list[Sample] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        done = [r for r in self.requests if r.finish_s is not None and r.first_token_s is not None]
        if not done:
            return {"requests": len(self.requests), "completed": 0}
        start = min(r.arrival_s for r in self.requests)
        end = max(r.finish_s for r in done if r.finish_s is not None)
        duration = max(end - start, 1e-9)
        out_tokens = sum(r.num_output for r in done)
        in_tokens = sum(r.prompt_tokens for r in done)
        ttft = [(r.first_token_s or 0.0) - r.arrival_s for r in done]
        e2e = [(r.finish_s or 0.0) - r.arrival_s for r in done]
        tpot = [
            t
            for t in (tpot_s(e, f, r.num_output) for r, e, f in zip(done, e2e, ttft, strict=True))
            if t is not None
        ]
        queue = [(r.scheduled_s or r.arrival_s) - r.arrival_s for r in done]
        return {
            "requests": len(self.requests),
            "completed": len(done),
            "duration_s": duration,
            "request_throughput_per_s": len(done) / duration,
            "output_tokens_per_s": out_tokens / duration,
            "total_tokens_per_s": (out_tokens + in_tokens) / duration,
            "output_tokens": out_tokens,
            "prompt_tokens": in_tokens,
            "ttft_ms": latency_stats_ms(ttft).model_dump(),
            "itl_ms": weighted_latency_stats_ms(self.itl_values_s, self.itl_weights).model_dump(),
            "tpot_ms": latency_stats_ms(tpot).model_dump(),
            "e2e_ms": latency_stats_ms(e2e).model_dump(),
            "queue_ms": latency_stats_ms(queue).model_dump(),
            "preemptions": self.preemptions,
            "prefix_cached_tokens": sum(r.cached_tokens for r in done),
            "steps": self.steps,
            "fast_forward_steps": self.fast_forward_steps,
            "peak_running": max((s.running for s in self.samples), default=0),
            "peak_waiting": max((s.waiting for s in self.samples), default=0),
            "peak_kv_usage": max((s.kv_usage for s in self.samples), default=0.0),
            "simulation_wall_s": self.wall_s,
            "simulation_cpu_s": self.cpu_s,
        }


def replay(
    config: SimConfig,
    timer: StepTimer,
    trace: Sequence[TraceRequest],
    *,
    concurrency: int | None = None,
    phase_s: float = 0.0,
    fast_forward: bool = True,
    sample_every_s: float = 1.0,
    max_sim_s: float = math.inf,
) -> VirtualReport:
    """Run ``trace`` through a fresh engine in virtual time and report what clients would see.

    Open loop (default): requests arrive at their ``arrival_s``. Closed loop (``concurrency`` = c):
    arrival times are ignored; the first c requests start at once (or out of phase within ``phase_s``:
    :func:`kubellm.sim.arrivals.closed_loop_offsets`) and each one that finishes is
    replaced at that moment by the next, as a benchmark at fixed concurrency does. A request reaches
    the scheduler ``config.request_overhead_s`` after it arrives (API server, tokenizer), as in the
    live engine; its latencies count from its arrival.
    """
    wall0, cpu0 = time.perf_counter(), time.process_time()
    core = SimCore(config, timer)
    sched = core.scheduler
    pending = Arrivals(config, trace, concurrency, phase_s=phase_s)
    requests: list[SimRequest] = []
    itl_v: list[float] = []
    itl_w: list[float] = []
    samples: list[Sample] = []
    next_sample = 0.0
    now = pending.next_s if pending else 0.0
    steps = ff_steps = 0

    def finished(done: list[SimRequest]) -> None:
        for req in done:
            pending.replace(req.finish_s or now)

    while (pending or sched.has_work) and now < max_sim_s:
        while pending and pending.next_s <= now:
            arrival, tr = pending.pop()
            req = replayed_request(core, config, tr, arrival, len(requests))
            requests.append(req)
            if room_for(config, tr) >= 1:
                sched.add(req)
        if not sched.has_work:
            if pending:
                now = pending.next_s
            continue
        if now >= next_sample:
            samples.append(Sample(now, len(sched.running), len(sched.waiting), core.pool.usage))
            next_sample = now + sample_every_s
        horizon = pending.next_s - now if pending else math.inf
        if fast_forward:
            batch = sched.decode_batch()
            if batch is not None:
                seqs, context = batch
                a = timer.step_ms(0, seqs, context) / 1e3
                b = timer.step_ms(0, seqs, context + seqs) / 1e3 - a
                k = steps_starting_before(horizon, a, b, sched.fast_forward_limit(1 << 30))
                if k >= 2:
                    total = k * a + b * k * (k - 1) / 2
                    now += total
                    finished(sched.fast_forward(k, now))
                    itl_v.append(a + b * (k - 1) / 2)
                    itl_w.append(k * seqs)
                    steps += k
                    ff_steps += k
                    continue
        step = sched.schedule(now)
        if step.empty:  # SimConfig guarantees one max_model_len request fits the pool
            raise RuntimeError("the scheduler found nothing to run although requests wait")
        duration = core.step_s(step)
        result = sched.complete(step, now, now + duration)
        record_gaps(result, itl_v, itl_w)
        now += duration
        steps += 1
        finished(result.finished)
    return VirtualReport(
        requests,
        itl_v,
        itl_w,
        steps,
        ff_steps,
        sched.num_preemptions,
        time.perf_counter() - wall0,
        time.process_time() - cpu0,
        samples,
    )


def replayed_request(
    core: SimCore, config: SimConfig, tr: TraceRequest, arrival: float, index: int
) -> SimRequest:
    """The simulated request for one trace entry: its prefix's block hashes, and at least one output token (a
    prompt that leaves no room under max_model_len is created, for the record, but never scheduled)."""
    hashes = core.synthetic_block_hashes(tr.prompt_tokens, tr.prefix, tr.prefix_tokens, index)
    return core.new_request(
        f"r{index}",
        tr.prompt_tokens,
        max(room_for(config, tr), 1),
        arrival,
        block_hashes=hashes,
        ignore_eos=True,
    )


def room_for(config: SimConfig, tr: TraceRequest) -> int:
    """Output tokens the request may produce: what it asks for, within max_model_len (< 1: not scheduled)."""
    return min(tr.output_tokens, config.max_model_len - tr.prompt_tokens)


def record_gaps(result: StepResult, values: list[float], weights: list[float]) -> None:
    if result.common_gap_count:
        values.append(result.common_gap_s)
        weights.append(result.common_gap_count)
    for gap in result.other_gaps_s:
        values.append(gap)
        weights.append(1)


def steps_starting_before(horizon_s: float, a: float, b: float, limit: int) -> int:
    """Largest k ≤ limit whose k-th step starts before ``horizon_s`` (steps last a, a+b, a+2b, …)."""
    if limit <= 0 or a <= 0:
        return 0
    if math.isinf(horizon_s):
        return limit

    def elapsed(j: int) -> float:  # end of step j
        return j * a + b * j * (j - 1) / 2

    j = min(limit - 1, max(0, int(horizon_s / a)))
    while j > 0 and elapsed(j) >= horizon_s:
        j -= 1
    while j + 1 < limit and elapsed(j + 1) < horizon_s:
        j += 1
    return j + 1
