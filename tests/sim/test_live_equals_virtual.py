"""The live (real-time) engine and the virtual-time replay run the same seeded workload step for step.

The live engine runs on a discrete-event clock: every ``sleep`` registers a wake-up time and the clock
jumps to the earliest one once everything else has settled, so steps last exactly their modelled time
and requests arrive exactly at their trace times, as in virtual time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools

import pytest

from kubellm.sim.config import SimConfig
from kubellm.sim.core import SimCore
from kubellm.sim.engine import RealTimeEngine
from kubellm.sim.scheduler import SimRequest
from kubellm.sim.timing import LinearStepTimer
from kubellm.sim.trace import TraceRequest, poisson_trace
from kubellm.sim.virtual import replay

CONFIG = SimConfig(
    "m", max_model_len=2048, max_num_seqs=16, max_num_batched_tokens=512, kv_blocks=160, prefix_caching=False
)
TIMER = LinearStepTimer(
    overhead_ms=4.0, per_seq_ms=0.3, per_context_token_ms=0.0004, per_prefill_token_ms=0.03
)


class EventClock:
    """A discrete-event clock for asyncio code that takes ``clock`` and ``sleep`` callables."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakeups, (self.now + max(seconds, 0.0), next(self._order), future))
        await future

    async def run_until(self, done: asyncio.Future[None]) -> None:
        while not done.done():
            for _ in range(20):  # let every ready task run until all of them wait on the clock
                await asyncio.sleep(0)
            if not self._wakeups:
                continue
            when, _, future = heapq.heappop(self._wakeups)
            self.now = max(self.now, when)
            future.set_result(None)


def run_live(config: SimConfig, trace: list[TraceRequest]) -> tuple[list[SimRequest], int]:
    """Submit each trace request at its arrival time to a live engine; return the requests and steps."""

    async def main() -> tuple[list[SimRequest], int]:
        clock = EventClock()
        engine = RealTimeEngine(SimCore(config, TIMER), clock=clock, sleep=clock.sleep)
        engine.start()
        requests: list[SimRequest] = []

        async def client(tr: TraceRequest) -> None:
            await clock.sleep(tr.arrival_s - clock.now)
            handle = engine.submit(tr.prompt_tokens, tr.output_tokens, token_ids=None, ignore_eos=True)
            requests.append(handle.request)
            while await engine.next_tokens(handle):
                pass

        async def everything() -> None:
            await asyncio.gather(*(client(tr) for tr in trace))

        task = asyncio.ensure_future(everything())
        await clock.run_until(task)
        await engine.stop()
        return sorted(requests, key=lambda r: r.arrival_s), engine.steps

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("fast_forward", "overhead_s", "jitter", "serial_s"),
    [
        (False, 0.0, 0.0, 0.0),
        (True, 0.0, 0.0, 0.0),
        (True, 0.02, 0.0, 0.0),
        (True, 0.02, 0.5, 0.0),
        (True, 0.05, 0.0, 0.04),
    ],
)
def test_live_and_virtual_agree_step_for_step(
    fast_forward: bool, overhead_s: float, jitter: float, serial_s: float
) -> None:
    config = dataclasses.replace(
        CONFIG, request_overhead_s=overhead_s, request_overhead_jitter=jitter, frontend_serial_s=serial_s
    )
    trace = poisson_trace(30, 4, 300, 60, seed=11, length_spread=0.9)
    virtual = replay(config, TIMER, trace, fast_forward=fast_forward)
    live, live_steps = run_live(config, trace)
    assert live_steps == virtual.steps
    assert len(live) == len(virtual.requests) == len(trace)
    for mine, theirs in zip(live, sorted(virtual.requests, key=lambda r: r.arrival_s), strict=True):
        assert mine.arrival_s == pytest.approx(theirs.arrival_s, abs=1e-9)
        assert mine.num_output == theirs.num_output
        assert mine.first_token_s == pytest.approx(theirs.first_token_s, abs=1e-9)
        assert mine.finish_s == pytest.approx(theirs.finish_s, abs=1e-9)
        assert mine.num_preemptions == theirs.num_preemptions
        assert mine.first_token_s - mine.arrival_s > overhead_s * (1 - jitter)
