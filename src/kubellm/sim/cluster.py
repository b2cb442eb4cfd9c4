"""Virtual time across several identical replicas behind a router (the gateway's routing policy).

Each replica is an engine core of its own; one clock advances from event to event — a request reaching
the router, or a replica ending its step — so replicas step independently, as real engines do. The
router sees every replica's load at the moment a request arrives (its outstanding requests, and the
engine's running, waiting and KV-cache gauges) and picks one. With one replica this is exactly
:func:`kubellm.sim.virtual.replay` (a test holds it to that).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kubellm.sim.arrivals import Arrivals
from kubellm.sim.config import SimConfig
from kubellm.sim.core import SimCore
from kubellm.sim.scheduler import SimRequest, Step
from kubellm.sim.timing import StepTimer
from kubellm.sim.trace import TraceRequest
from kubellm.sim.virtual import (
    Sample,
    VirtualReport,
    record_gaps,
    replayed_request,
    room_for,
    steps_starting_before,
)


@dataclass(frozen=True, slots=True)
class ReplicaLoad:
    """What a router may look at: requests routed there and not finished, and the engine's gauges."""

    outstanding: int
    running: int
    waiting: int
    kv_usage: float


Route = Callable[[Sequence[ReplicaLoad]], int]


def least_outstanding(loads: Sequence[ReplicaLoad]) -> int:
    """The replica with the fewest outstanding requests (the lowest index on ties)."""
    return min(range(len(loads)), key=lambda i: loads[i].outstanding)


@dataclass(slots=True, eq=False)
class _Replica:
    core: SimCore
    outstanding: int = 0
    busy_until: float = math.inf  # end of the step in progress (or when the next starts); inf: idle
    running_step: bool = False  # False: at busy_until the next step starts, True: this one ends
    step: Step | None = None
    batch: tuple[int, float, float, int] | None = None  # fast-forward: (steps, a, b, seqs)
    start: float = 0.0

    def load(self) -> ReplicaLoad:
        sched = self.core.scheduler
        return ReplicaLoad(self.outstanding, len(sched.running), len(sched.waiting), self.core.pool.usage)


@dataclass(slots=True)
class _Run:
    itl_values: list[float] = field(default_factory=list)
    itl_weights: list[float] = field(default_factory=list)
    steps: int = 0
    ff_steps: int = 0


def replay_cluster(
    config: SimConfig,
    timer: StepTimer,
    trace: Sequence[TraceRequest],
    replicas: int,
    route: Route = least_outstanding,
    *,
    concurrency: int | None = None,
    phase_s: float = 0.0,
    fast_forward: bool = True,
    sample_every_s: float = 1.0,
    max_sim_s: float = math.inf,
) -> VirtualReport:
    """Run ``trace`` through ``replicas`` fresh engines behind ``route``, in virtual time.

    Load semantics are :func:`kubellm.sim.virtual.replay`'s: open loop by arrival times, or closed loop
    with ``concurrency`` requests in flight across the whole cluster, its clients started out of phase
    within ``phase_s`` (:func:`kubellm.sim.arrivals.closed_loop_offsets`; 0: all at once).
    """
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    nodes = [_Replica(SimCore(config, timer)) for _ in range(replicas)]
    pending = Arrivals(config, trace, concurrency, phase_s=phase_s)
    requests: list[SimRequest] = []
    samples: list[Sample] = []
    run = _Run()
    next_sample = 0.0
    now = pending.next_s if pending else 0.0

    def start_step(node: _Replica) -> None:
        nonlocal next_sample
        sched = node.core.scheduler
        node.start = now
        if not sched.has_work:
            node.busy_until, node.step, node.batch, node.running_step = math.inf, None, None, False
            return
        if now >= next_sample:
            samples.append(_sample(now, nodes))
            next_sample = now + sample_every_s
        node.running_step = True
        horizon = pending.next_s - now if pending else math.inf
        if fast_forward:
            batch = sched.decode_batch()
            if batch is not None:
                seqs, context = batch
                a = timer.step_ms(0, seqs, context) / 1e3
                b = timer.step_ms(0, seqs, context + seqs) / 1e3 - a
                k = steps_starting_before(horizon, a, b, sched.fast_forward_limit(1 << 30))
                if k >= 2:
                    node.batch, node.step = (k, a, b, seqs), None
                    node.busy_until = now + k * a + b * k * (k - 1) / 2
                    return
        step = sched.schedule(now)
        if step.empty:  # SimConfig guarantees one max_model_len request fits the pool
            raise RuntimeError("the scheduler found nothing to run although requests wait")
        node.step, node.batch = step, None
        node.busy_until = now + node.core.step_s(step)

    def finish_step(node: _Replica) -> list[SimRequest]:
        sched = node.core.scheduler
        if node.batch is not None:
            k, a, b, seqs = node.batch
            done = sched.fast_forward(k, now)
            run.itl_values.append(a + b * (k - 1) / 2)
            run.itl_weights.append(k * seqs)
            run.steps += k
            run.ff_steps += k
            return done
        assert node.step is not None
        result = sched.complete(node.step, node.start, now)
        record_gaps(result, run.itl_values, run.itl_weights)
        run.steps += 1
        return result.finished

    while (pending or any(n.busy_until < math.inf for n in nodes)) and now < max_sim_s:
        busy = min(nodes, key=lambda n: n.busy_until)
        if pending and pending.next_s <= busy.busy_until:
            now = pending.next_s
            arrival, tr = pending.pop()
            node = nodes[route([n.load() for n in nodes]) if replicas > 1 else 0]
            req = replayed_request(node.core, config, tr, arrival, len(requests))
            requests.append(req)
            if room_for(config, tr) >= 1:
                node.core.scheduler.add(req)
                node.outstanding += 1
                if (
                    node.busy_until == math.inf
                ):  # idle: its next step starts once this instant's arrivals are in
                    node.busy_until = now
            continue
        now = busy.busy_until
        if not busy.running_step:
            start_step(busy)
            continue
        for req in finish_step(busy):
            busy.outstanding -= 1
            pending.replace(req.finish_s or now)
        busy.running_step = False  # the next step starts after the arrivals of this instant
    preemptions = sum(n.core.scheduler.num_preemptions for n in nodes)
    return VirtualReport(
        requests,
        run.itl_values,
        run.itl_weights,
        run.steps,
        run.ff_steps,
        preemptions,
        time.perf_counter() - wall0,
        time.process_time() - cpu0,
        samples,
    )


def _sample(now: float, nodes: Sequence[_Replica]) -> Sample:
    loads = [n.load() for n in nodes]
    return Sample(
        now,
        sum(x.running for x in loads),
        sum(x.waiting for x in loads),
        max(x.kv_usage for x in loads),
    )
