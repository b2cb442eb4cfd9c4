"""The client-facing listener: aiohttp's request handler, hardened for the open internet.

* A request head must be complete ``header_timeout_s`` after its first byte (slow-loris), else 408.
* Idle keep-alive connections, and connections that never send anything, close after ``idle_timeout_s``.
* At most ``max_connections`` connections are open (by default half the open-file limit, which is
  raised to its hard maximum at start); one more gets a 503 with Retry-After and a log line, rather
  than a silent failure to accept once file descriptors run out.
* A malformed request (bare LF, control characters, oversized lines…) gets an OpenAI-shaped 400 and a
  log line that names the error but never quotes the request, which may carry the key and the prompt.

The handler relies on three of ``RequestHandler``'s attributes (``_request_count``, counted per parsed
request head, ``_messages``, the parsed requests not yet handled, and ``_current_request``);
tests/gateway/test_hardening.py pins the behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
import time
from typing import Any

from aiohttp import web

from kubellm.gateway.rejection import SERVER_NAME, error_body

log = logging.getLogger("kubellm.gateway")
_FD_RESERVE = 64  # descriptors kept for engines' sockets, probes, files and the listener itself
_LINGER_S = 2.0  # after an answer sent before the request body was read: read (and drop) it this long


def _raw_response(
    status: int, reason: str, message: str, code: str, retry_after_s: int | None = None
) -> bytes:
    body = error_body(status, message, code)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nServer: {SERVER_NAME}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    if retry_after_s is not None:
        head += f"Retry-After: {retry_after_s}\r\n"
    return head.encode() + b"\r\n" + body


_TOO_MANY = _raw_response(503, "Service Unavailable", "too many open connections; retry", "overloaded", 1)
_HEAD_TIMEOUT = _raw_response(
    408, "Request Timeout", "the request head did not arrive in time", "request_timeout"
)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (as Go's runtime does); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_limit(configured: int | None, open_file_limit: int) -> tuple[int, bool]:
    """The connection cap for an open-file limit: half of what is left after a reserve (at least 8).

    Returns (cap, lowered): ``lowered`` when a configured value had to be brought down to it.
    """
    allowed = max(8, (open_file_limit - min(_FD_RESERVE, open_file_limit // 4)) // 2)
    if configured is None:
        return allowed, False
    return min(configured, allowed), configured > allowed


class ConnectionGate:
    """Counts open client connections; says no beyond the cap (and logs it, at most every 10 s)."""

    def __init__(self, limit: int, clock: Any = time.monotonic) -> None:
        self.limit = limit
        self.open = 0
        self.refused = 0
        self._clock = clock
        self._last_log = float("-inf")

    def admit(self) -> bool:
        if self.open < self.limit:
            self.open += 1
            return True
        self.refused += 1
        now = self._clock()
        if now - self._last_log >= 10.0:
            self._last_log = now
            log.warning(
                "connection limit reached: %d open; new connections get 503 — raise listen.max_connections "
                "(and the open-file limit) or add gateway replicas",
                self.open,
                extra={"max_connections": self.limit, "refused": self.refused},
            )
        return False

    def release(self) -> None:
        self.open -= 1


class GatewayRequestHandler(web.RequestHandler):
    """aiohttp's handler with a head timeout, a connection cap and secret-free error handling."""

    def __init__(
        self, manager: web.Server, *, gate: ConnectionGate, header_timeout_s: float, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._gate = gate
        self._header_timeout_s = header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_count = 0
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._gate.admit():
            writable: Any = transport
            writable.write(_TOO_MANY)
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._gate.release()
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _idle(self) -> bool:
        """No request parsed and waiting, none being handled: bytes now belong to a new head."""
        return self._current_request is None and not self._messages

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self._idle():
            self._head_count = self._request_count
            self._head_timer = asyncio.get_running_loop().call_later(
                self._header_timeout_s, self._head_too_slow
            )
        count = self._request_count
        super().data_received(data)
        if self._request_count != count:
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._request_count != self._head_count or not self._idle():
            return  # the head arrived (and its request is being handled)
        if self.transport is not None and not self.transport.is_closing():
            writable: Any = self.transport
            writable.write(_HEAD_TIMEOUT)
        self.force_close()
        if self.transport is not None:
            self.transport.close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """An OpenAI-shaped error; the log line names the error, never the request's bytes."""
        kind = type(exc).__name__ if exc is not None else "error"
        if status >= 500:
            log.error("unhandled error while serving a request", extra={"error": kind, "status": status})
        else:
            log.warning(
                "malformed HTTP request", extra={"error": kind, "status": status, "remote": request.remote}
            )
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; the connection is closed instead")
        text = "malformed HTTP request" if status < 500 else "internal gateway error"
        code = "bad_request" if status < 500 else "internal_error"
        response = web.Response(
            status=status,
            body=error_body(status, text, code),
            headers={"Content-Type": "application/json", "Server": SERVER_NAME},
        )
        response.force_close()
        return response


async def open_listener(
    runner: web.BaseRunner,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None,
    gate: ConnectionGate,
    header_timeout_s: float,
    idle_timeout_s: float,
) -> asyncio.Server:
    """Listen on ``host:port`` with hardened handlers for ``runner``'s application."""
    loop = asyncio.get_running_loop()
    server = runner.server
    assert server is not None, "set the runner up first"

    def make_handler() -> GatewayRequestHandler:
        return GatewayRequestHandler(
            server,
            gate=gate,
            header_timeout_s=header_timeout_s,
            loop=loop,
            keepalive_timeout=idle_timeout_s,
            lingering_time=_LINGER_S,
            access_log=None,
        )

    return await loop.create_server(make_handler, host, port, ssl=ssl_context, backlog=1024)
