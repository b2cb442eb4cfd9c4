"""The real-time engine loop with an injected clock: steps last exactly their modelled time."""

from __future__ import annotations

import asyncio

import pytest

from kubellm.sim.core import SimCore
from kubellm.sim.engine import RealTimeEngine, StreamHandle
from kubellm.sim.timing import LinearStepTimer

from .conftest import small_config


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_tokens_arrive_on_the_modelled_timeline_scaled_by_time_scale() -> None:
    timer = LinearStepTimer(
        overhead_ms=10.0, per_seq_ms=1.0, per_context_token_ms=0.0, per_prefill_token_ms=0.5
    )
    clock = FakeClock()

    async def run() -> tuple[StreamHandle, RealTimeEngine]:
        engine = RealTimeEngine(
            SimCore(small_config(), timer), time_scale=2.0, clock=clock, sleep=clock.sleep
        )
        engine.start()
        handle = engine.submit(20, 4, token_ids=None, ignore_eos=True)
        while await engine.next_tokens(handle):
            pass
        await engine.stop()
        return handle, engine

    handle, engine = asyncio.run(run())
    prefill_s = (10.0 + 0.5 * 20) / 1e3 * 2.0
    decode_s = (10.0 + 1.0) / 1e3 * 2.0
    req = handle.request
    assert handle.taken == 4 and req.finish_reason == "length"
    assert req.first_token_s is not None and req.finish_s is not None
    assert req.first_token_s - req.arrival_s == pytest.approx(prefill_s)
    assert req.finish_s - req.first_token_s == pytest.approx(3 * decode_s)
    assert engine.metrics.ttft.sum == pytest.approx(prefill_s)
    assert engine.metrics.itl.count == 3 and engine.metrics.itl.sum == pytest.approx(3 * decode_s)
    assert engine.steps == 4
