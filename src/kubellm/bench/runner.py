"""Load levels, run one after another on one event loop: closed loop, open loop, sweeps.

Closed loop: ``concurrency`` workers each send their next request as soon as the previous one ends.
Open loop: arrivals (Poisson or evenly spaced) are scheduled from the clock alone, never from
responses; each request's latencies count from its *scheduled* time, and the point reports how far the
actual sends fell behind that schedule. The aiohttp connection pool is unbounded, so no request ever
waits for a free connection inside the client.

``BenchRun.results`` is filled in as points finish, so a caller that is interrupted still holds the
partial results.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import aiohttp

from kubellm import __version__
from kubellm.bench.client import Clock, StreamingClient, error_message_of
from kubellm.bench.knee import find_knee, step_elasticity
from kubellm.bench.summary import RequestRecord, summarize_point
from kubellm.bench.workload import Workload
from kubellm.errors import KubellmError
from kubellm.spec.bench import BenchConfig, BenchMetadata, BenchPoint, BenchResults, TokenSource

PROGRESS_INTERVAL_S = 0.5
MAX_SWEEP_ERROR_FRACTION = 0.05


class BenchAbort(KubellmError):
    """The run cannot go on (server unreachable, key refused, model unknown)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for live display."""

    label: str
    elapsed_s: float
    planned_s: float | None
    completed: int
    planned_requests: int | None
    errors: int
    in_flight: int


def api_base(url: str) -> str:
    """The ``…/v1`` base of a server URL given with or without ``/v1``."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def utc_now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def load_levels(config: BenchConfig) -> Iterator[tuple[Literal["concurrency", "rate"], float]]:
    """The load levels to run: the given lists, or a doubling sweep from the first (or 1)."""
    mode: Literal["concurrency", "rate"] = "rate" if config.rate else "concurrency"
    given: list[float] = (
        [float(r) for r in config.rate] if config.rate else [float(c) for c in config.concurrency]
    )
    if not config.sweep:
        for level in given or [1.0]:
            yield mode, level
        return
    level = given[0] if given else 1.0
    while level <= config.sweep_max:
        yield mode, level
        level *= 2


class BenchRun:
    """One benchmark run over its load levels; ``results`` grows point by point."""

    def __init__(
        self,
        config: BenchConfig,
        workload: Workload,
        headers: dict[str, str] | None = None,
        count_tokens: Callable[[str], int] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_point: Callable[[BenchPoint], None] | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.config = config
        self.workload = workload
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.count_tokens = count_tokens
        self.on_progress = on_progress
        self.on_point = on_point
        self.clock = clock
        self._body_index = 0
        self.last_records: list[RequestRecord] = []  # raw records of the level run last
        fallback = "the local tokenizer" if count_tokens is not None else "one token per content chunk"
        note = f"server usage (stream_options.include_usage), else {fallback}"
        self.results = BenchResults(
            metadata=BenchMetadata(
                kubellm_version=__version__,
                started_at=utc_now(),
                host=socket.gethostname(),
                config=config,
                token_source_note=note + f"; workload: {workload.description}",
            )
        )

    async def run(self) -> BenchResults:
        """Preflight, then every load level until the list ends, a sweep stops, or all requests fail."""
        connector = aiohttp.TCPConnector(limit=0, ssl=self.config.verify_tls)
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                await self._preflight(session)
                url = api_base(self.config.url) + (
                    "/chat/completions" if self.config.api == "chat" else "/completions"
                )
                client = StreamingClient(session, url, self.headers, self.count_tokens, self.clock)
                previous: BenchPoint | None = None
                for mode, level in load_levels(self.config):
                    point = await self.run_point(client, mode, level)
                    self.results.points.append(point)
                    if self.on_point:
                        self.on_point(point)
                    reason = self._stop_reason(point, previous)
                    if reason:
                        self.results.stop_reason = reason
                        break
                    previous = point
                else:
                    self.results.stop_reason = (
                        "sweep reached its highest level" if self.config.sweep else "all levels run"
                    )
        except BenchAbort as exc:
            self.results.aborted = str(exc)
        finally:
            self.finish()
        return self.results

    def finish(self) -> None:
        """Stamp the end time and find the knee of what was measured."""
        self.results.metadata.finished_at = utc_now()
        self.results.knee = find_knee(self.results.points, self.config.slo, self.config.plateau_gain)

    async def _preflight(self, session: aiohttp.ClientSession) -> None:
        url = api_base(self.config.url) + "/models"
        try:
            async with session.get(
                url, headers=self.headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except aiohttp.ClientSSLError as exc:
            raise BenchAbort(
                f"TLS with {self.config.url} failed: {exc}",
                "give the server a certificate this machine trusts, or pass --insecure to skip verification",
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise BenchAbort(
                f"cannot reach {self.config.url}: {exc.os_error or exc}",
                "check the URL and that the server is up (inside a cluster, use --render-job)",
            ) from None
        except TimeoutError:
            raise BenchAbort(
                f"{url} did not answer within 10 s", "check the URL and the server's health"
            ) from None
        except aiohttp.ClientError as exc:
            raise BenchAbort(
                f"cannot reach {self.config.url}: {exc}", "check the URL (http vs https, port)"
            ) from None
        if status in (401, 403):
            raise BenchAbort(
                f"the server refused the request (HTTP {status}): {error_message_of(raw)}",
                "pass the API key with --api-key-env VAR (the variable holding the key)",
            )
        if status == 404:
            return  # some servers have no /v1/models; the requests themselves will tell
        if status != 200:
            raise BenchAbort(
                f"GET {url} answered HTTP {status}: {error_message_of(raw)}",
                "check the server's logs and health",
            )
        try:
            data = json.loads(raw)
            ids = [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]
        except (ValueError, AttributeError):
            return
        if ids and self.config.model not in ids:
            raise BenchAbort(
                f"the server does not serve model {self.config.model!r}",
                f"use --model with one of: {', '.join(ids[:10])}",
            )

    def _stop_reason(self, point: BenchPoint, previous: BenchPoint | None) -> str:
        label = f"{'concurrency' if point.concurrency is not None else 'rate'} {point.load:g}"
        if point.requests == 0 and point.error_count > 0:
            kinds = ", ".join(f"{k} ×{v}" for k, v in sorted(point.errors.items()))
            return f"every request failed at {label} ({kinds})"
        if not self.config.sweep:
            return ""
        attempts = point.requests + point.error_count
        if attempts and point.error_count > MAX_SWEEP_ERROR_FRACTION * attempts:
            return f"more than {MAX_SWEEP_ERROR_FRACTION:.0%} of requests failed at {label}"
        if self.config.slo and point.slo_met is False:
            return f"SLO broken at {label}"
        if previous is not None and step_elasticity(previous, point) < self.config.plateau_gain:
            return f"throughput plateaued at {label}"
        return ""

    def _next_body(self) -> bytes:
        bodies = self.workload.bodies
        body = bodies[self._body_index % len(bodies)]
        self._body_index += 1
        return body

    async def run_point(
        self, client: StreamingClient, mode: Literal["concurrency", "rate"], level: float
    ) -> BenchPoint:
        """Run one load level and summarize it."""
        records: list[RequestRecord] = []
        self.last_records = records
        label = f"concurrency {level:g}" if mode == "concurrency" else f"rate {level:g}/s"
        t0 = self.clock()
        ticker = asyncio.ensure_future(self._tick(label, t0, records, client)) if self.on_progress else None
        try:
            if mode == "concurrency":
                w0, w1 = await self._closed(client, int(level), t0, records)
            else:
                w0, w1 = await self._open(client, level, t0, records)
        except asyncio.CancelledError:
            # Interrupted (Ctrl-C): keep the requests that finished, so partial results are written.
            w0, w1 = t0 + self.config.warmup_s, self.clock()
            if w1 > w0 and any(r.start_s >= w0 for r in records):
                self.results.points.append(self._summarize(records, mode, level, w0, w1))
                self.results.stop_reason = f"interrupted during {label}; that level is partial"
            raise
        finally:
            if ticker is not None:
                ticker.cancel()
        return self._summarize(records, mode, level, w0, w1)

    def _summarize(
        self, records: list[RequestRecord], mode: str, level: float, w0: float, w1: float
    ) -> BenchPoint:
        if mode == "concurrency":
            return summarize_point(records, w0, w1, self.config.slo, concurrency=int(level))
        return summarize_point(records, w0, w1, self.config.slo, rate=level, arrival=self.config.arrival)

    def _window(self, t0: float) -> tuple[float, float]:
        w0 = t0 + self.config.warmup_s
        if self.config.duration_s is not None:
            return w0, w0 + self.config.duration_s
        return w0, math.inf

    async def _closed(
        self, client: StreamingClient, concurrency: int, t0: float, records: list[RequestRecord]
    ) -> tuple[float, float]:
        w0, stop_at = self._window(t0)
        limit = self.config.requests if self.config.duration_s is None else None
        started = [0]
        clock = self.clock
        send = client.send
        next_body = self._next_body
        append = records.append

        async def worker(delay_s: float) -> None:
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            while True:
                now = clock()
                if now >= stop_at:
                    return
                if limit is not None and now >= w0:
                    if started[0] >= limit:
                        return
                    started[0] += 1
                append(await send(next_body(), now))

        step_s = self.config.ramp_up_s / concurrency
        await asyncio.gather(*(worker(i * step_s) for i in range(concurrency)))
        return w0, stop_at if stop_at != math.inf else _last_end(records, w0)

    async def _open(
        self, client: StreamingClient, rate: float, t0: float, records: list[RequestRecord]
    ) -> tuple[float, float]:
        w0, stop_at = self._window(t0)
        limit = self.config.requests if self.config.duration_s is None else None
        rng = random.Random(self.config.seed + int(rate * 1000))
        poisson = self.config.arrival == "poisson"
        clock = self.clock
        tasks: set[asyncio.Task[RequestRecord]] = set()

        def done(task: asyncio.Task[RequestRecord]) -> None:
            tasks.discard(task)
            if not task.cancelled():
                records.append(task.result())

        due = t0
        measured = 0
        while due < stop_at and (limit is None or measured < limit):
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.ensure_future(client.send(self._next_body(), due))
            task.add_done_callback(done)
            tasks.add(task)
            if due >= w0:
                measured += 1
            due += rng.expovariate(rate) if poisson else 1.0 / rate
        if tasks:
            await asyncio.wait(set(tasks))
        return w0, stop_at if stop_at != math.inf else _last_end(records, w0)

    async def _tick(
        self, label: str, t0: float, records: list[RequestRecord], client: StreamingClient
    ) -> None:
        assert self.on_progress is not None
        planned_s = self.config.warmup_s + self.config.duration_s if self.config.duration_s else None
        seen = errors = 0
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL_S)
            total = len(records)
            errors += sum(1 for r in records[seen:total] if r.error is not None)  # only the new ones
            seen = total
            self.on_progress(
                Progress(
                    label=label,
                    elapsed_s=self.clock() - t0,
                    planned_s=planned_s,
                    completed=total - errors,
                    planned_requests=self.config.requests if self.config.duration_s is None else None,
                    errors=errors,
                    in_flight=client.in_flight,
                )
            )


def _last_end(records: list[RequestRecord], w0: float) -> float:
    ends = [r.end_s for r in records if r.start_s >= w0]
    return max(ends) if ends else w0


def token_source_of(points: list[BenchPoint]) -> TokenSource:
    """The one token source of all points, or MIXED."""
    sources = {p.token_source for p in points if p.token_source != TokenSource.NONE}
    return sources.pop() if len(sources) == 1 else (TokenSource.NONE if not sources else TokenSource.MIXED)
