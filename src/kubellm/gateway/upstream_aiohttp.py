"""The reference upstream client: aiohttp's ``ClientSession``, written plainly.

It exists so that the fast client has something to be compared with: both run the same test suite,
and ``benchmarks/gateway_upstream_clients.py`` puts their CPU per request side by side. The gateway
uses it with ``upstream_client: aiohttp`` (for instance to rule the fast client out when debugging).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator

import aiohttp

from kubellm.gateway.upstream import Headers, UpstreamError
from kubellm.spec.gateway import TimeoutConfig

_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def _error(exc: BaseException, *, got_any: bool) -> UpstreamError:
    """The ``UpstreamError`` an aiohttp exception stands for."""
    if isinstance(exc, TimeoutError):
        what = "silence between chunks" if got_any else "time to first byte"
        return UpstreamError(
            f"the engine exceeded the {what} limit", kind="timeout", sent_nothing=not got_any
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        kind = "local" if exc.os_error.errno in _OUT_OF_RESOURCES else "connect"
        return UpstreamError(f"cannot connect: {exc.strerror or exc}", kind=kind, sent_nothing=True)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamError("the engine closed the connection", kind="reset", sent_nothing=not got_any)
    if isinstance(exc, aiohttp.ClientResponseError):
        return UpstreamError(
            f"malformed HTTP from the engine: {exc.message}", kind="protocol", sent_nothing=False
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamError("the engine broke the answer off", kind="reset", sent_nothing=False)
    return UpstreamError(f"the engine connection failed: {exc}", kind="reset", sent_nothing=not got_any)


class AiohttpResponse:
    """An answer being read with aiohttp, under the same time limits as the fast client."""

    def __init__(self, response: aiohttp.ClientResponse, timeouts: TimeoutConfig, sent: float) -> None:
        self._response = response
        self._loop = asyncio.get_running_loop()
        self._deadline = sent + timeouts.total_s
        self._first_byte_due = sent + timeouts.first_byte_s
        self._gap_s = timeouts.between_chunks_s
        self._got_body = False
        self._prefix: list[bytes] = []
        self.status = response.status

    def header(self, name: str) -> str | None:
        return self._response.headers.get(name)

    async def _next(self) -> bytes:
        due = self._loop.time() + self._gap_s if self._got_body else self._first_byte_due
        try:
            async with asyncio.timeout_at(min(due, self._deadline)):
                data = await self._response.content.readany()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _error(exc, got_any=True) from None
        if data:
            self._got_body = True
        return data

    async def read_small(self, limit: int) -> bytes | None:
        size = 0
        while True:
            data = await self._next()
            if not data:
                body = b"".join(self._prefix)
                self._prefix.clear()
                return body
            self._prefix.append(data)
            size += len(data)
            if size > limit:
                return None

    async def chunks(self) -> AsyncIterator[bytes]:
        while self._prefix:
            yield self._prefix.pop(0)
        while data := await self._next():
            yield data

    def release(self) -> None:
        self._response.release()

    def close(self) -> None:
        self._response.close()


class AiohttpUpstreamClient:
    """One ``ClientSession`` for every engine; created in the running loop on first use."""

    def __init__(self, timeouts: TimeoutConfig, max_idle_per_origin: int = 256) -> None:
        self.timeouts = timeouts
        self.max_idle = max_idle_per_origin
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=self.max_idle)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # bytes pass through as the engine wrote them
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    async def post(
        self, origin: str, path: str, body: bytes, headers: Headers, stream: bool
    ) -> AiohttpResponse:
        session = self._get_session()
        sent = asyncio.get_running_loop().time()
        limits = self.timeouts
        request_headers = {"Content-Type": "application/json", **dict(headers)}
        try:
            async with asyncio.timeout_at(sent + min(limits.first_byte_s, limits.total_s)):
                response = await session.post(
                    origin + path,
                    data=body,
                    headers=request_headers,
                    timeout=aiohttp.ClientTimeout(total=None, connect=limits.connect_s),
                )
        except aiohttp.ConnectionTimeoutError:
            raise UpstreamError(
                "connecting to the engine timed out", kind="connect", sent_nothing=True
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _error(exc, got_any=False) from None
        return AiohttpResponse(response, limits, sent)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
