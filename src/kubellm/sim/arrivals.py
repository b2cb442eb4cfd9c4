"""When requests reach the scheduler in virtual time: open or closed loop, plus the API server's share.

A request reaches the scheduler ``request_overhead_s`` after the client sends it — drawn uniformly within
± ``request_overhead_jitter`` of it, seeded, in the order requests are sent — exactly as the live engine
delays it (:meth:`kubellm.sim.core.SimCore.entry_delay_s` draws the same sequence). Plans set no
jitter: a ±50 % jitter, tried to break the lockstep of closed loops of identical requests, made the fit
part's TTFT errors worse (docs/sizing.md), so it is a knob for what-if studies, not a default.

Of that share, ``frontend_serial_s`` is done by the one API-server process a request at a time, first
come first served (parsing, tokenizing): requests sent at the same instant reach the scheduler that far
apart, so a closed loop's clients, all started together, drift apart as real ones do instead of staying
in lockstep, and a burst of requests is admitted over time rather than at once.
"""

from __future__ import annotations

import heapq
import itertools
import math
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


def closed_loop_offsets(config: SimConfig, clients: int, phase_s: float) -> list[float]:
    """When each closed-loop client sends its first request, earliest first.

    With ``phase_s`` 0 all start at once. Clients of a real closed loop measured over many rounds are out
    of phase: answers of different lengths, network and scheduling jitter move each client's cycle a
    little every round, so after a few rounds their requests arrive spread over the round. Identical
    simulated requests never drift, and clients started together stay in lockstep, every prefill of a
    round queued behind the others. Starting each client at a seeded uniform offset within one round
    (``phase_s``, the time one request takes at that load) replays the drifted-apart steady state.
    """
    if phase_s <= 0:
        return [0.0] * clients
    rng = random.Random(f"{config.seed}:phases")
    return sorted(rng.uniform(0.0, phase_s) for _ in range(clients))


class FrontEnd:
    """The API server in front of the scheduler, shared by the live engine and virtual time."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._rng = overhead_rng(config)
        self._free_s = -math.inf

    def enters_s(self, sent_s: float) -> float:
        """When a request its client sends at ``sent_s`` reaches the scheduler (call in the order sent):
        its drawn overhead, the serial part of it queued behind the requests sent before."""
        total = draw_overhead_s(self.config, self._rng)
        serial = min(self.config.frontend_serial_s, total)
        if serial <= 0:
            return sent_s + total
        self._free_s = max(sent_s + total - serial, self._free_s) + serial
        return self._free_s


class Arrivals:
    """Requests not yet at the scheduler, earliest first: (enters at, sent at, template)."""

    def __init__(
        self,
        config: SimConfig,
        trace: Sequence[TraceRequest],
        concurrency: int | None,
        *,
        phase_s: float = 0.0,
    ) -> None:
        """``phase_s`` (closed loop): each client sends its first request at a seeded uniform offset in
        [0, phase_s) instead of all at once (see :func:`closed_loop_offsets`)."""
        self.config = config
        self._front = FrontEnd(config)
        self._heap: list[tuple[float, int, float, TraceRequest]] = []
        self._order = itertools.count()
        templates = sorted(trace, key=lambda r: r.arrival_s)
        if concurrency is not None:
            if concurrency < 1:
                raise ValueError("concurrency must be at least 1")
            offsets = closed_loop_offsets(config, min(concurrency, len(templates)), phase_s)
            for offset, tr in zip(offsets, templates[:concurrency], strict=True):
                self._push(offset, tr)
            self.backlog = deque(templates[concurrency:])
        else:
            for tr in templates:
                self._push(tr.arrival_s, tr)
            self.backlog = deque()

    def _push(self, sent_s: float, tr: TraceRequest) -> None:
        enters = self._front.enters_s(sent_s)
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
