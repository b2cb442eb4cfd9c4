"""What a planned service would measure under some traffic: the simulator in virtual time, replicas
behind the gateway's routing policy, reported in the benchmark's metric definitions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubellm.gateway.routing import BackendStats, RouteRequest, make_router
from kubellm.planning import PerformanceModel, Plan
from kubellm.sim.cluster import ReplicaLoad, Route, replay_cluster
from kubellm.sim.config import config_from_plan
from kubellm.sizing.traffic import Traffic, build_trace
from kubellm.spec.metrics import LatencyStats

DEFAULT_POLICY = "least-outstanding"


@dataclass(frozen=True, slots=True)
class Prediction:
    """Simulated client-side figures of a service under a traffic (latencies in ms)."""

    ttft_ms: LatencyStats
    itl_ms: LatencyStats
    tpot_ms: LatencyStats
    e2e_ms: LatencyStats
    output_tokens_per_s: float
    requests_per_s: float
    requests: int
    completed: int
    preemptions: int
    peak_waiting: int

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "ttft_ms": self.ttft_ms.model_dump(),
            "itl_ms": self.itl_ms.model_dump(),
            "tpot_ms": self.tpot_ms.model_dump(),
            "e2e_ms": self.e2e_ms.model_dump(),
            "output_tokens_per_s": round(self.output_tokens_per_s, 2),
            "requests_per_s": round(self.requests_per_s, 3),
            "requests": self.requests,
            "completed": self.completed,
            "preemptions": self.preemptions,
            "peak_waiting": self.peak_waiting,
        }


def gateway_route(policy: str = DEFAULT_POLICY, seed: int = 0) -> Route:
    """The gateway's routing policy as a simulator route: replicas are the pool's endpoints."""
    router = make_router(policy, seed=seed)
    request = RouteRequest()

    def route(loads: Sequence[ReplicaLoad]) -> int:
        endpoints = [str(i) for i in range(len(loads))]
        stats = {
            name: BackendStats(load.outstanding, load.waiting, load.running, load.kv_usage)
            for name, load in zip(endpoints, loads, strict=True)
        }
        return int(router.select(request, endpoints, stats))

    return route


def round_s(perf: PerformanceModel, traffic: Traffic, replicas: int = 1) -> float:
    """Roughly how long one request of a closed loop takes: its prefill, then its answer at the decode
    speed of a batch of the clients one replica serves (the window clients start within)."""
    batch = max(1, -(-(traffic.concurrency or 1) // replicas))
    prompt, output = traffic.prompt_tokens, traffic.output_tokens
    decode_ms = perf.decode_step_ms(batch, prompt + output // 2)
    return (perf.request_overhead_ms + perf.prefill_ms(prompt) + output * decode_ms) / 1e3


def simulate(
    plan: Plan,
    traffic: Traffic,
    *,
    replicas: int = 1,
    policy: str = DEFAULT_POLICY,
    seed: int = 0,
    timer: PerformanceModel | None = None,
    prefix_caching: bool = False,
) -> Prediction:
    """Replay ``traffic`` (seeded) through ``replicas`` copies of the engine ``plan`` describes."""
    perf = timer or plan.performance_model
    # synthetic prompts share no prefix, so the prefix cache would only cost simulation time
    config = config_from_plan(plan, seed=seed, prefix_caching=prefix_caching)
    config = dataclasses.replace(
        config,
        request_overhead_s=perf.request_overhead_ms / 1e3,
        frontend_serial_s=perf.frontend_serial_ms / 1e3,
        max_model_len=max(config.max_model_len, min(traffic.longest_request, config.kv_tokens)),
    )
    trace, concurrency = build_trace(traffic, seed)
    report = replay_cluster(
        config,
        perf,
        trace,
        replicas,
        gateway_route(policy, seed),
        concurrency=concurrency,
        phase_s=round_s(perf, traffic, replicas) if concurrency is not None else 0.0,
    )
    summary = report.summary()
    if not summary.get("completed"):
        empty = LatencyStats()
        return Prediction(empty, empty, empty, empty, 0.0, 0.0, len(trace), 0, 0, 0)
    return Prediction(
        ttft_ms=LatencyStats(**summary["ttft_ms"]),
        itl_ms=LatencyStats(**summary["itl_ms"]),
        tpot_ms=LatencyStats(**summary["tpot_ms"]),
        e2e_ms=LatencyStats(**summary["e2e_ms"]),
        output_tokens_per_s=summary["output_tokens_per_s"],
        requests_per_s=summary["request_throughput_per_s"],
        requests=summary["requests"],
        completed=summary["completed"],
        preemptions=summary["preemptions"],
        peak_waiting=summary["peak_waiting"],
    )
