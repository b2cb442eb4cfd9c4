"""The seam between the request path and the HTTP client that reaches the engines.

Two clients implement it and pass the same test suite (tests/gateway/test_upstream.py):
``upstream_httptools.HttptoolsUpstreamClient``, the fast one the gateway uses by default, and
``upstream_aiohttp.AiohttpUpstreamClient``, a plain reference on aiohttp's ``ClientSession``
(``upstream_client: aiohttp`` in the config). A behaviour that differs between them is a failing
test, not an incident.

Time limits, the same for both: until the first body byte arrives (the whole answer of a
non-streamed request usually comes at once; a stream's first chunk waits for prefill), the request
may take ``first_byte_s`` from when it was sent; after that, no silence may last longer than
``between_chunks_s`` — except while the gateway itself stopped reading because its client is slow —
and the whole request may take ``total_s``. Bodies are handed over as the bytes that arrived, at most
about ``BODY_HIGH_WATER`` at a time: reading from the engine pauses while that much waits to be
relayed, so a slow client holds back the engine instead of filling the gateway's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

BODY_HIGH_WATER = 1 << 20  # bytes of an answer buffered, not yet relayed, before reading pauses

Headers = Sequence[tuple[str, str]]


class UpstreamError(Exception):
    """The engine could not be reached, broke the connection, sent garbage, or was too slow.

    ``kind`` is ``connect``, ``reset``, ``timeout``, ``protocol`` or ``local`` (this process ran
    out of something, e.g. file descriptors: not the engine's fault). ``sent_nothing`` is true when
    the failure happened before any response byte arrived.
    """

    def __init__(self, message: str, *, kind: str, sent_nothing: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.sent_nothing = sent_nothing


class UpstreamResponse(Protocol):
    """An engine's answer whose status line and headers have arrived."""

    status: int

    def header(self, name: str) -> str | None:
        """The first value of a response header (``name`` in lower case)."""
        ...

    async def read_small(self, limit: int) -> bytes | None:
        """The whole body if it is at most ``limit`` bytes; else None, and ``chunks`` yields it all."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The (rest of the) body as it arrives; raises ``UpstreamError`` when the engine fails."""
        ...

    def release(self) -> None:
        """Keep the connection for reuse when the body was read to the end, else close it."""
        ...

    def close(self) -> None:
        """Drop the connection (an unfinished answer cancels the engine's work)."""
        ...


class UpstreamClient(Protocol):
    """Pooled connections to engines."""

    async def post(
        self, origin: str, path: str, body: bytes, headers: Headers, stream: bool
    ) -> UpstreamResponse:
        """Send ``POST path`` with a JSON body to ``origin``; returns once the response headers are in."""
        ...

    async def aclose(self) -> None:
        """Close every pooled connection."""
        ...


async def read_all(response: UpstreamResponse) -> bytes:
    """The whole body (for small answers and tests)."""
    return b"".join([chunk async for chunk in response.chunks()])
