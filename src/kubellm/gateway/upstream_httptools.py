"""The fast upstream client: pooled keep-alive HTTP/1.1 connections on the httptools parser.

General-purpose clients spend most of a proxied request's CPU on objects the gateway never needs
(URL objects, multidicts, payload wrappers, per-read timers). This one writes the request in one
``transport.write``, parses the answer with httptools (the parser uvicorn uses), hands bodies over
as the bytes that arrived (a stream is relayed without re-serialising) and keeps one lazily re-armed
timer per request. Its behaviour is pinned by the suite it shares with the aiohttp reference client.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

from kubellm.gateway.upstream import BODY_HIGH_WATER, Headers, UpstreamError
from kubellm.spec.gateway import TimeoutConfig

OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class HttptoolsResponse(asyncio.Protocol):
    """One keep-alive connection; while a request is on it, it is also that request's response."""

    def __init__(self, pool: OriginPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self.keep_alive = True
        self.error: UpstreamError | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._got_any = False
        self._got_body = False
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._last = 0.0
        self._deadline = 0.0
        self._first_byte_due = 0.0
        self._gap_s = 0.0

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self._last = self.loop.time()
        self._got_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("the engine tried to upgrade the connection", "protocol")
        except httptools.HttpParserError as exc:
            self._fail(f"malformed HTTP from the engine: {exc}", "protocol")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail("the engine closed the connection", "reset")

    # --- httptools callbacks ---------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        self._wake()

    def on_body(self, body: bytes) -> None:
        if not self._got_body:
            self._got_body = True
            self._arm(self._last + self._gap_s)  # from now on silences are bounded by between_chunks_s
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > BODY_HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._cancel_timer()
        self._wake()

    # --- waiting and timeouts --------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, message: str, kind: str) -> None:
        if self.error is None and not self.complete:
            self.error = UpstreamError(message, kind=kind, sent_nothing=not self._got_any)
        self.keep_alive = False
        self._cancel_timer()
        if self.transport is not None and not self.closed:
            self.transport.abort()
            self.closed = True
        self._wake()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, due: float) -> None:
        """Make sure the timer fires no later than ``due`` (and never after the total deadline)."""
        due = min(due, self._deadline)
        if self._timer is not None:
            if self._timer_due <= due:
                return  # it fires earlier and re-arms itself lazily
            self._timer.cancel()
        self._timer_due = due
        self._timer = self.loop.call_at(due, self._check_time)

    def _check_time(self) -> None:
        self._timer = None
        if self.complete or self.error is not None:
            return
        now = self.loop.time()
        if now >= self._deadline:
            self._fail("the engine exceeded the total time limit", "timeout")
        elif self._paused:
            self._last = now  # silence while the gateway holds the engine back is not the engine's
            self._arm(now + self._gap_s)
        elif not self._got_body:
            if now >= self._first_byte_due:
                self._fail("the engine exceeded the time to first byte limit", "timeout")
            else:
                self._arm(self._first_byte_due)
        elif now >= self._last + self._gap_s:
            self._fail("the engine exceeded the silence between chunks limit", "timeout")
        else:
            self._arm(self._last + self._gap_s)

    async def _wait(self) -> None:
        if self.error is not None:
            raise self.error
        self._waiter = self.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self.error is not None:
            raise self.error

    # --- the request ------------------------------------------------------------------------------

    def send(self, data: bytes, timeouts: TimeoutConfig) -> None:
        """Write one request; the answer is read with ``wait_headers`` and then the body methods."""
        self._reset()
        now = self.loop.time()
        self._last = now
        self._deadline = now + timeouts.total_s
        self._first_byte_due = now + timeouts.first_byte_s
        self._gap_s = timeouts.between_chunks_s
        self._arm(self._first_byte_due)
        assert self.transport is not None
        self.transport.write(data)

    async def wait_headers(self) -> None:
        """Until the status line and headers have arrived."""
        while not self.status:
            await self._wait()

    def header(self, name: str) -> str | None:
        """The first value of a response header (``name`` in lower case)."""
        wanted = name.encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def _take(self) -> bytes:
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self._last = self.loop.time()
            self.transport.resume_reading()
        return data

    async def read_small(self, limit: int) -> bytes | None:
        """The whole body if it is at most ``limit`` bytes; else None (``chunks`` yields it all)."""
        while not self.complete:
            if self._buffered > limit:
                return None
            await self._wait()
        return self._take() if self._buffered <= limit else None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives: each item is everything received since the last one."""
        while True:
            if self._chunks:
                yield self._take()
            elif self.complete:
                return
            else:
                await self._wait()

    def release(self) -> None:
        """Return the connection to its pool when the answer was read to the end, else close it."""
        self._cancel_timer()
        if self.complete and not self._chunks and self.keep_alive and not self.closed and self.error is None:
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection (an unfinished answer cancels the engine's work)."""
        self._cancel_timer()
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True


class OriginPool:
    """Idle keep-alive connections to one engine (scheme, host, port)."""

    def __init__(self, origin: str, max_idle: int, loop: asyncio.AbstractEventLoop) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self.loop = loop
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        self.host_header = parts.netloc.encode("idna")
        self.max_idle = max_idle
        self.idle: list[HttptoolsResponse] = []

    def put(self, conn: HttptoolsResponse) -> None:
        if len(self.idle) < self.max_idle:
            conn.reused = True
            self.idle.append(conn)
        else:
            conn.close()

    async def connect(self, connect_s: float) -> HttptoolsResponse:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        try:
            async with asyncio.timeout(connect_s):
                _, protocol = await self.loop.create_connection(
                    lambda: HttptoolsResponse(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError:
            raise UpstreamError(
                f"connecting to {self.host}:{self.port} timed out", kind="connect", sent_nothing=True
            ) from None
        except OSError as exc:
            kind = "local" if exc.errno in OUT_OF_RESOURCES else "connect"
            raise UpstreamError(
                f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}",
                kind=kind,
                sent_nothing=True,
            ) from None
        return protocol

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


class HttptoolsUpstreamClient:
    """Pools of connections per engine origin."""

    def __init__(self, timeouts: TimeoutConfig, max_idle_per_origin: int = 256) -> None:
        self.timeouts = timeouts
        self.max_idle = max_idle_per_origin
        self._pools: dict[str, OriginPool] = {}

    def _pool(self, origin: str) -> OriginPool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = OriginPool(origin, self.max_idle, asyncio.get_running_loop())
        return pool

    async def post(
        self, origin: str, path: str, body: bytes, headers: Headers, stream: bool
    ) -> HttptoolsResponse:
        """Send ``POST path`` with a JSON ``body``; returns once the response headers are in."""
        pool = self._pool(origin)
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        data = (
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\nHost: "
            + pool.host_header
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n"
            + extra.encode("latin-1")
            + b"\r\n"
            + body
        )
        for _ in range(2):
            conn = await pool.connect(self.timeouts.connect_s)
            conn.send(data, self.timeouts)
            try:
                await conn.wait_headers()
            except UpstreamError as exc:
                conn.close()
                if exc.sent_nothing and conn.reused and exc.kind == "reset":
                    continue  # the engine had closed this idle connection: try a fresh one
                raise
            except BaseException:
                conn.close()
                raise
            return conn
        raise UpstreamError("the engine closed the connection twice", kind="reset", sent_nothing=True)

    async def aclose(self) -> None:
        """Close every idle connection."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
