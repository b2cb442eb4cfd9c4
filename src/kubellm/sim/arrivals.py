"""When requests reach the scheduler in virtual time: open or closed loop, plus the API server's share.

A request reaches the scheduler ``request_overhead_s`` after the client sends it — drawn uniformly within
± ``request_overhead_jitter`` of it, seeded, in the order requests are sent — exactly as the live engine
delays it (:meth:`kubellm.sim.core.SimCore.entry_delay_s` draws the same sequence). Plans set no
jitter: a ±50 % jitter, tried to break the lockstep of closed loops of identical requests, made the fit
part's TTFT errors worse (docs/sizing.md), so it is a knob for what-if studies, not a default.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Sequence

from kubellm.sim.config import SimConfig
from kubellm.sim.trace import TraceRequest


def overhead_rng(config: SimConfig) -> random.Random:
    """The generator both drivers draw request overheads from."""
    return random.Random(f"{config.seed}:overhead")


def draw_overhead_s(config: SimConfig, rng: random.Random) -> float:
    base, jitter = config.request_overhead_s, config.request_overhead_jitter
    if base <= 0:
        return 0.0
    return base * (rng.uniform(1.0 - jitter, 1.0 + jitter) if jitter > 0 else 1.0)


class Arrivals:
    """Requests not yet at the scheduler, earliest first: (enters at, sent at, template)."""

    def __init__(self, config: SimConfig, trace: Sequence[TraceRequest], concurrency: int | None) -> None:
        self.config = config
        self._rng = overhead_rng(config)
        self._heap: list[tuple[float, int, float, TraceRequest]] = []
        self._order = itertools.count()
        templates = sorted(trace, key=lambda r: r.arrival_s)
        if concurrency is not None:
            if concurrency < 1:
                raise ValueError("concurrency must be at least 1")
            for tr in templates[:concurrency]:
                self._push(0.0, tr)
            self.backlog = deque(templates[concurrency:])
        else:
            for tr in templates:
                self._push(tr.arrival_s, tr)
            self.backlog = deque()

    def _push(self, sent_s: float, tr: TraceRequest) -> None:
        enters = sent_s + draw_overhead_s(self.config, self._rng)
        heapq.heappush(self._heap, (enters, next(self._order), sent_s, tr))

    def __bool__(self) -> bool:
        return bool(self._heap)

    @property
    def next_s(self) -> float:
        """When the next request reaches the scheduler (only while there is one)."""
        return self._heap[0][0]

    def pop(self) -> tuple[float, TraceRequest]:
        """(time the client sent it, template) of the next request to reach the scheduler."""
        _, _, sent, tr = heapq.heappop(self._heap)
        return sent, tr

    def replace(self, finished_s: float) -> None:
        """Closed loop: a request finished at ``finished_s``; its client sends the next one then."""
        if self.backlog:
            self._push(finished_s, self.backlog.popleft())
