"""Real time: the engine core stepping on the asyncio event loop, tokens handed to waiting streams.

Each step is scheduled, lasts its modelled duration × ``time_scale`` on the injected clock, then
completes; tokens go to per-request handles that HTTP handlers await. When the process cannot keep
up (CPU-bound at thousands of streams) steps simply end late, as an overloaded engine's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kubellm.sim.core import SimCore
from kubellm.sim.metrics import EngineMetrics
from kubellm.sim.scheduler import ABORTED, SimRequest


@dataclass(eq=False, slots=True)
class StreamHandle:
    """A request's mailbox: tokens produced and not yet taken, and whether it is over."""

    request: SimRequest
    pending: int = 0
    taken: int = 0
    done: bool = False
    waiter: asyncio.Future[None] | None = field(default=None)
    entering: asyncio.Task[None] | None = field(default=None)  # until the scheduler has it

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class RealTimeEngine:
    """Runs :class:`SimCore` steps on the running event loop."""

    def __init__(
        self,
        core: SimCore,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.core = core
        self.time_scale = time_scale
        self.clock = clock
        self.sleep = sleep
        self.metrics = EngineMetrics(core.config.served_model_name, core.config.max_model_len)
        self.steps = 0
        self._handles: dict[str, StreamHandle] = {}
        self._ids = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sim-engine")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ---- requests --------------------------------------------------------------------------------
    def submit(
        self,
        prompt_tokens: int,
        max_tokens: int,
        *,
        token_ids: list[int] | None,
        ignore_eos: bool,
        max_tokens_given: bool = True,
    ) -> StreamHandle:
        core = self.core
        hashes = core.prompt_block_hashes(token_ids) if token_ids is not None else []
        req = core.new_request(
            f"req-{next(self._ids)}",
            prompt_tokens,
            max_tokens,
            self.clock(),
            block_hashes=hashes,
            ignore_eos=ignore_eos,
            max_tokens_given=max_tokens_given,
        )
        handle = StreamHandle(req)
        self._handles[req.request_id] = handle
        delay = core.entry_delay_s(req.arrival_s / self.time_scale) * self.time_scale
        if delay > 0:
            handle.entering = asyncio.get_running_loop().create_task(self._enter_after(handle, delay))
        else:
            self._enter(handle)
        return handle

    def _enter(self, handle: StreamHandle) -> None:
        handle.entering = None
        self.core.scheduler.add(handle.request)
        self._wake.set()

    async def _enter_after(self, handle: StreamHandle, delay_s: float) -> None:
        """The API server's share of a request (tokenizing, validating) before the scheduler sees it."""
        await self.sleep(delay_s)
        self._enter(handle)

    async def next_tokens(self, handle: StreamHandle) -> int:
        """Wait for new tokens; returns how many (0 once the request is over)."""
        while handle.pending == 0 and not handle.done:
            handle.waiter = asyncio.get_running_loop().create_future()
            await handle.waiter
            handle.waiter = None
        n = handle.pending
        handle.pending = 0
        handle.taken += n
        return n

    def abort(self, handle: StreamHandle) -> None:
        """The client went away: free the request's place and blocks."""
        if not handle.done:
            handle.done = True
            if handle.entering is not None:  # never reached the scheduler
                handle.entering.cancel()
                handle.entering = None
                handle.request.status = ABORTED
                handle.request.finish_reason = "abort"
                handle.request.finish_s = self.clock()
            else:
                self.core.scheduler.abort(handle.request, self.clock())
            self.metrics.observe_finished(handle.request)
        self._handles.pop(handle.request.request_id, None)

    def render_metrics(self) -> str:
        return self.metrics.render(self.core.scheduler, self.core.pool)

    # ---- the step loop -----------------------------------------------------------------------------
    async def _run(self) -> None:
        core = self.core
        sched = core.scheduler
        clock = self.clock
        target_end: float | None = None  # modelled end of the previous step, while busy
        prev_end: float | None = None  # when the previous step really ended, while busy
        while True:
            if not sched.has_work:
                target_end = prev_end = None
                self._wake.clear()
                await self._wake.wait()
                continue
            start = clock()
            step = sched.schedule(start)
            if step.empty:  # cannot happen with a valid config; do not spin
                await self.sleep(0.001)
                continue
            duration = core.step_s(step) * self.time_scale
            # Back to back, a step starts where the previous one was modelled to end, so the loop's
            # own bookkeeping (up to a quarter step) does not stretch the timeline; beyond that the
            # step simply starts late, as on an overloaded host.
            target = (
                start + duration
                if target_end is None
                else max(target_end, start - 0.25 * duration) + duration
            )
            target_end = target
            delay = target - clock()
            await (self.sleep(delay) if delay > 0 else asyncio.sleep(0))
            end = clock()
            # gaps are measured from each request's previous token; passing the previous step's end
            # lets the scheduler count the common gap once instead of per request
            result = sched.complete(step, start if prev_end is None else prev_end, end)
            prev_end = end
            self.steps += 1
            self.metrics.observe_step(result)
            handles = self._handles
            for req in result.emitted:
                handle = handles.get(req.request_id)
                if handle is not None:
                    handle.pending += 1
                    handle._wake()
            for req in result.finished:
                handle = handles.pop(req.request_id, None)
                if handle is not None:
                    handle.done = True
                    handle._wake()
