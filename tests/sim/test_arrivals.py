"""When requests reach the scheduler: the API server's serial share spaces out requests sent together, and a
closed loop's clients can start out of phase instead of in lockstep."""

from __future__ import annotations

import dataclasses
import statistics

import pytest

from kubellm.errors import UsageError
from kubellm.sim.arrivals import Arrivals, FrontEnd, closed_loop_offsets
from kubellm.sim.config import SimConfig
from kubellm.sim.timing import LinearStepTimer
from kubellm.sim.trace import TraceRequest
from kubellm.sim.virtual import replay

CONFIG = SimConfig(
    "m",
    max_model_len=4096,
    max_num_seqs=64,
    max_num_batched_tokens=8192,
    kv_blocks=2048,
    prefix_caching=False,
)
TIMER = LinearStepTimer(overhead_ms=4.0, per_seq_ms=0.1, per_context_token_ms=0.0, per_prefill_token_ms=0.02)


def test_requests_sent_together_leave_the_front_end_one_serial_share_apart() -> None:
    front = FrontEnd(dataclasses.replace(CONFIG, request_overhead_s=0.030, frontend_serial_s=0.010))
    entries = [front.enters_s(0.0) for _ in range(4)]
    assert entries == pytest.approx([0.030, 0.040, 0.050, 0.060])
    # an idle front end: a request sent later pays only its own overhead
    assert front.enters_s(1.0) == pytest.approx(1.030)


def test_without_a_serial_share_every_request_pays_the_overhead_alone() -> None:
    front = FrontEnd(dataclasses.replace(CONFIG, request_overhead_s=0.030))
    assert [front.enters_s(0.0) for _ in range(3)] == pytest.approx([0.030] * 3)


def test_a_serial_share_larger_than_the_overhead_is_refused() -> None:
    with pytest.raises(UsageError, match="frontend_serial_s"):
        dataclasses.replace(CONFIG, request_overhead_s=0.01, frontend_serial_s=0.02)


def test_closed_loop_clients_start_within_the_phase_window_earliest_first() -> None:
    assert closed_loop_offsets(CONFIG, 3, 0.0) == [0.0, 0.0, 0.0]
    offsets = closed_loop_offsets(CONFIG, 50, 2.0)
    assert offsets == sorted(offsets) and all(0.0 <= x < 2.0 for x in offsets)
    assert len(set(offsets)) == 50 and offsets == closed_loop_offsets(CONFIG, 50, 2.0)  # seeded
    trace = [TraceRequest(0.0, 100, 10) for _ in range(60)]
    arrivals = Arrivals(CONFIG, trace, 50, phase_s=2.0)
    firsts = [arrivals.pop()[0] for _ in range(50)]
    assert firsts == offsets and not arrivals


def test_out_of_phase_clients_do_not_queue_their_prefills_behind_each_other() -> None:
    """16 identical clients started together prefill together every round (each waits for the whole
    wave's prefill); started out of phase, a prompt mostly meets only decodes."""
    trace = [TraceRequest(0.0, 1000, 200) for _ in range(160)]
    lockstep = replay(CONFIG, TIMER, trace, concurrency=16)
    spread = replay(CONFIG, TIMER, trace, concurrency=16, phase_s=1.0)

    def median_ttft(report: object) -> float:
        reqs = report.requests  # type: ignore[attr-defined]
        return statistics.median(r.first_token_s - r.arrival_s for r in reqs)

    alone_s = TIMER.step_ms(1000, 0, 0) / 1e3
    assert median_ttft(lockstep) > 5 * alone_s
    assert median_ttft(spread) < 2 * alone_s
