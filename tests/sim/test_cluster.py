"""Several replicas behind a router in virtual time: one replica is the single-engine replay exactly."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from kubellm.sim.cluster import ReplicaLoad, least_outstanding, replay_cluster
from kubellm.sim.config import SimConfig
from kubellm.sim.timing import LinearStepTimer
from kubellm.sim.trace import TraceRequest, poisson_trace
from kubellm.sim.virtual import replay

CONFIG = SimConfig(
    "m", max_model_len=2048, max_num_seqs=16, max_num_batched_tokens=512, kv_blocks=160, prefix_caching=False
)
TIMER = LinearStepTimer(
    overhead_ms=4.0, per_seq_ms=0.3, per_context_token_ms=0.0004, per_prefill_token_ms=0.03
)


def _timeline(report: object) -> list[tuple[float, float | None, float | None, int]]:
    reqs = sorted(report.requests, key=lambda r: (r.arrival_s, r.request_id))  # type: ignore[attr-defined]
    return [(r.arrival_s, r.first_token_s, r.finish_s, r.num_output) for r in reqs]


@pytest.mark.parametrize(
    ("concurrency", "overhead_s", "phase_s"),
    [(None, 0.0, 0.0), (None, 0.015, 0.0), (6, 0.0, 0.0), (6, 0.01, 0.0), (6, 0.01, 3.0)],
)
def test_one_replica_is_the_single_engine_replay(
    concurrency: int | None, overhead_s: float, phase_s: float
) -> None:
    config = dataclasses.replace(CONFIG, request_overhead_s=overhead_s, frontend_serial_s=overhead_s / 2)
    trace = poisson_trace(30, 4, 300, 60, seed=11, length_spread=0.9)
    single = replay(config, TIMER, trace, concurrency=concurrency, phase_s=phase_s)
    cluster = replay_cluster(config, TIMER, trace, 1, concurrency=concurrency, phase_s=phase_s)
    assert cluster.steps == single.steps and cluster.preemptions == single.preemptions
    for mine, theirs in zip(_timeline(cluster), _timeline(single), strict=True):
        assert mine == pytest.approx(theirs, abs=1e-9)


def test_two_replicas_halve_the_queue_of_an_overloaded_one() -> None:
    trace = poisson_trace(40, 6, 300, 80, seed=3)
    one = replay_cluster(CONFIG, TIMER, trace, 1).summary()
    two = replay_cluster(CONFIG, TIMER, trace, 2).summary()
    assert two["ttft_ms"]["p95"] < one["ttft_ms"]["p95"] / 2
    assert two["completed"] == one["completed"] == len(trace)


def test_least_outstanding_spreads_a_burst_evenly() -> None:
    chosen: list[int] = []

    def spy(loads: Sequence[ReplicaLoad]) -> int:
        index = least_outstanding(loads)
        chosen.append(index)
        return index

    burst = [TraceRequest(0.0, 100, 20) for _ in range(12)]
    replay_cluster(CONFIG, TIMER, burst, 3, spy)
    assert sorted(chosen.count(i) for i in range(3)) == [4, 4, 4]


def test_closed_loop_concurrency_is_across_the_cluster() -> None:
    templates = [TraceRequest(0.0, 100, 30) for _ in range(40)]
    report = replay_cluster(CONFIG, TIMER, templates, 2, concurrency=8, sample_every_s=0.001)
    assert report.summary()["completed"] == 40
    assert {s.running + s.waiting for s in report.samples} <= set(range(1, 9))
    assert max(s.running + s.waiting for s in report.samples) == 8
