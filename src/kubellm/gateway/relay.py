"""Relaying an engine's answer to the client: whole small bodies, large bodies and SSE streams.

A small answer (up to the upstream high-water mark) is sent as one response. A larger one is
relayed piece by piece as it arrives, with the engine's Content-Length (or chunked framing), so
memory stays bounded by the high-water marks whatever the size and however slowly the client
reads: writing to a slow client waits, the upstream buffer fills, and reading from the engine
pauses. A stream is relayed chunk by chunk as the engine wrote it. When the engine fails after bytes
reached the client, a body is cut off (the client sees a short read, never a body that looks whole)
and a stream ends with an OpenAI-shaped error event and ``[DONE]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from kubellm.gateway.payload import UsageScanner, usage_of
from kubellm.gateway.rejection import SERVER_NAME, sse_error_event
from kubellm.gateway.upstream import BODY_HIGH_WATER, UpstreamError, UpstreamResponse


@dataclass(slots=True)
class Relayed:
    """What relaying saw: usage, stream chunks and their timing, and how it ended."""

    usage: tuple[int, int] | None = None
    body_bytes: int = 0
    chunks: int = 0
    events: int = 0  # SSE events ('data:' lines) relayed
    first_s: float = 0.0
    last_s: float = 0.0
    error: str = (
        ""  # "" | "upstream_broke_body" | "upstream_broke_stream" | "client_closed" | "drain_deadline"
    )
    upstream_failed: bool = False


def response_headers(upstream: UpstreamResponse, content_type: str, request_id: str) -> dict[str, str]:
    """The headers a relayed answer carries: its type, the engine's Retry-After, our request id."""
    headers = {"Content-Type": content_type, "X-Request-Id": request_id, "Server": SERVER_NAME}
    retry_after = upstream.header("retry-after")
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return headers


def _ended_by_drain(cutting: Callable[[], bool]) -> bool:
    """Whether a cancellation is the drain deadline's (then it is absorbed and the answer ended cleanly)."""
    task = asyncio.current_task()
    if not cutting() or task is None:
        return False
    task.uncancel()
    return True


async def relay_body(
    request: web.Request,
    upstream: UpstreamResponse,
    headers: dict[str, str],
    relayed: Relayed,
    cutting: Callable[[], bool],
) -> web.StreamResponse:
    """A non-streamed answer of any size, byte for byte."""
    small = await upstream.read_small(BODY_HIGH_WATER)  # raises UpstreamError before anything was sent
    if small is not None:
        relayed.usage = UsageScanner.of(small)
        relayed.body_bytes = len(small)
        return web.Response(status=upstream.status, body=small, headers=headers)
    response = web.StreamResponse(status=upstream.status, headers=headers)
    length = upstream.header("content-length")
    if length is not None and length.isdigit():
        response.content_length = int(length)
    await response.prepare(request)
    scanner = UsageScanner()
    try:
        async for piece in upstream.chunks():
            scanner.feed(piece)
            relayed.body_bytes += len(piece)
            await response.write(piece)
    except UpstreamError:
        relayed.error, relayed.upstream_failed = "upstream_broke_body", True
        _cut(request)
        return response
    except ConnectionError:
        relayed.error = "client_closed"
        return response
    except asyncio.CancelledError:
        if not _ended_by_drain(cutting):
            raise
        relayed.error = "drain_deadline"
        _cut(request)
        return response
    relayed.usage = scanner.usage
    await response.write_eof()
    return response


async def relay_stream(
    request: web.Request,
    upstream: UpstreamResponse,
    headers: dict[str, str],
    relayed: Relayed,
    clock: Callable[[], float],
    cutting: Callable[[], bool],
) -> web.StreamResponse:
    """An SSE stream, chunk by chunk as the engine wrote it."""
    response = web.StreamResponse(status=upstream.status, headers={**headers, "Cache-Control": "no-cache"})
    await response.prepare(request)
    before = chunk = b""
    try:
        async for piece in upstream.chunks():
            before, chunk = chunk, piece
            relayed.last_s = clock()
            if not relayed.chunks:
                relayed.first_s = relayed.last_s
            relayed.chunks += 1
            relayed.events += chunk.count(b"data:")
            await response.write(chunk)
    except UpstreamError:
        relayed.error, relayed.upstream_failed = "upstream_broke_stream", True
        await end_stream_with_error(response, chunk, "the backend failed mid-stream", "upstream_error")
        return response
    except ConnectionError:
        relayed.error = "client_closed"  # closing the upstream answer cancels the engine's work
        return response
    except asyncio.CancelledError:
        if not _ended_by_drain(cutting):
            raise
        relayed.error = "drain_deadline"
        await end_stream_with_error(
            response, chunk, "the gateway is shutting down; retry", "gateway_shutdown"
        )
        return response
    relayed.usage = usage_of(before[-4096:] + chunk[-4096:])  # the usage event is the last but [DONE]
    await response.write_eof()
    return response


async def end_stream_with_error(response: web.StreamResponse, last: bytes, message: str, code: str) -> None:
    """Close an SSE stream with an error event and ``[DONE]`` (on an event boundary)."""
    separator = b"" if not last or last.endswith(b"\n\n") else b"\n\n"
    try:
        await response.write(separator + sse_error_event(message, code))
        await response.write_eof()
    except ConnectionError:
        pass


def _cut(request: web.Request) -> None:
    """Abort the client's connection so a half-sent body cannot be mistaken for a whole one."""
    transport = request.transport
    if transport is not None:
        transport.abort()
