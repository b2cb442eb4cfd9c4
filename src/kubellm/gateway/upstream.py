"""A lean HTTP/1.1 client for the engines: pooled keep-alive connections, the httptools parser, timeouts.

General-purpose clients spend most of a proxied request's CPU on objects the gateway never needs
(URL objects, multidicts, payload wrappers, per-read timers). This one writes the request in one
``transport.write``, parses the answer with httptools (the parser uvicorn uses), hands bodies over
as the bytes that arrived (a stream is relayed without re-serialising) and keeps one lazily re-armed
timer per request for the first-byte, between-chunk and total limits.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

from kubellm.spec.gateway import TimeoutConfig

_HIGH_WATER = 1 << 20  # pause reading the engine when this much is buffered and not yet relayed


class UpstreamError(Exception):
    """The engine could not be reached, broke the connection, sent garbage, or was too slow.

    ``sent_nothing`` is true when the failure happened before any response byte arrived.
    """

    def __init__(self, message: str, *, kind: str, sent_nothing: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.sent_nothing = sent_nothing


class UpstreamConnection(asyncio.Protocol):
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
        self._last = 0.0
        self._deadline = 0.0
        self._first_byte_s = 0.0
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
        self._got_body = True
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
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

    def _check_time(self) -> None:
        self._timer = None
        if self.complete or self.error is not None:
            return
        now = self.loop.time()
        limit = self._gap_s if self._got_body else self._first_byte_s
        due = min(self._last + limit, self._deadline)
        if now >= due:
            what = (
                "total time"
                if now >= self._deadline
                else ("silence between chunks" if self._got_body else "time to first byte")
            )
            self._fail(f"the engine exceeded the {what} limit", "timeout")
        else:
            self._timer = self.loop.call_at(due, self._check_time)

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

    def send(self, head: bytes, body: bytes, timeouts: TimeoutConfig, stream: bool) -> None:
        """Write one request; the answer is read with ``wait_headers``, ``read`` or ``chunks``."""
        self._reset()
        now = self.loop.time()
        self._last = now
        self._deadline = now + timeouts.total_s
        self._first_byte_s = timeouts.first_byte_s
        self._gap_s = timeouts.between_chunks_s if stream else timeouts.first_byte_s
        self._timer = self.loop.call_at(min(now + self._first_byte_s, self._deadline), self._check_time)
        assert self.transport is not None
        self.transport.write(head + body)

    async def wait_headers(self) -> None:
        """Until the status line and headers have arrived."""
        while not self.status:
            await self._wait()

    def header(self, name: bytes) -> str | None:
        """The first value of a (lower-case) response header."""
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None

    def _take(self) -> bytes:
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def read(self) -> bytes:
        """The whole body."""
        while not self.complete:
            await self._wait()
        return self._take()

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
        if self.complete and self.keep_alive and not self.closed and self.error is None:
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
        self.idle: list[UpstreamConnection] = []

    def put(self, conn: UpstreamConnection) -> None:
        if len(self.idle) < self.max_idle:
            conn.reused = True
            self.idle.append(conn)
        else:
            conn.close()

    async def connect(self, connect_s: float) -> UpstreamConnection:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        try:
            async with asyncio.timeout(connect_s):
                _, protocol = await self.loop.create_connection(
                    lambda: UpstreamConnection(self),
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
            raise UpstreamError(
                f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}",
                kind="connect",
                sent_nothing=True,
            ) from None
        return protocol

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


class UpstreamClient:
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
        self, origin: str, path: str, body: bytes, extra_headers: bytes, stream: bool
    ) -> UpstreamConnection:
        """Send ``POST path`` with a JSON ``body``; returns once the response headers are in."""
        pool = self._pool(origin)
        head = (
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\nHost: "
            + pool.host_header
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n"
            + extra_headers
            + b"\r\n"
        )
        for _ in range(2):
            conn = await pool.connect(self.timeouts.connect_s)
            conn.send(head, body, self.timeouts, stream)
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

    def close(self) -> None:
        """Close every idle connection."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
