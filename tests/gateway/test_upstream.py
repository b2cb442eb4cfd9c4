"""The upstream client suite, run over the fast httptools client and the aiohttp reference alike.

Keep-alive reuse, stale connections, timeouts, broken answers, and bodies of every size cut at every
boundary a property test finds: a difference between the two implementations is a failing test.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.raw_upstream import Answer, RawUpstream
from kubellm.gateway.upstream import BODY_HIGH_WATER, UpstreamClient, UpstreamError, read_all
from kubellm.gateway.upstream_aiohttp import AiohttpUpstreamClient
from kubellm.gateway.upstream_httptools import HttptoolsUpstreamClient
from kubellm.spec.gateway import TimeoutConfig

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
ClientFactory = Callable[[TimeoutConfig], UpstreamClient]
CLIENTS: dict[str, ClientFactory] = {"httptools": HttptoolsUpstreamClient, "aiohttp": AiohttpUpstreamClient}


@pytest.fixture(params=sorted(CLIENTS))
def make_client(request: pytest.FixtureRequest) -> ClientFactory:
    return CLIENTS[request.param]


async def raw_server(behaviour: str) -> tuple[asyncio.Server, str, list[int]]:
    """A TCP server that answers each request according to ``behaviour``; counts connections."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                if behaviour == "hang":
                    await asyncio.sleep(10)
                elif behaviour == "garbage":
                    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
                elif behaviour == "close-after-one":
                    writer.write(OK)
                    await writer.drain()
                    writer.close()
                    return
                elif behaviour == "stall-mid-body":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                    await writer.drain()
                    await asyncio.sleep(10)
                elif behaviour == "headers-then-stall":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    await writer.drain()
                    await asyncio.sleep(10)
                elif behaviour == "short-body":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
                    await writer.drain()
                    writer.close()
                    return
                else:
                    writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", connections


def fast_timeouts(**overrides: float) -> TimeoutConfig:
    return TimeoutConfig(
        **{"connect_s": 1, "first_byte_s": 0.2, "between_chunks_s": 0.2, "total_s": 2, **overrides}
    )


def test_keep_alive_connections_are_reused(make_client: ClientFactory) -> None:
    async def scenario() -> int:
        server, url, connections = await raw_server("ok")
        client = make_client(fast_timeouts())
        for _ in range(5):
            conn = await client.post(url, "/v1/x", b"{}", (), stream=False)
            assert await conn.read_small(1024) == b"{}"
            conn.release()
        await client.aclose()
        server.close()
        return len(connections)

    assert asyncio.run(scenario()) == 1


def test_a_stale_idle_connection_is_replaced_transparently(make_client: ClientFactory) -> None:
    async def scenario() -> int:
        server, url, connections = await raw_server("close-after-one")
        client = make_client(fast_timeouts())
        for _ in range(3):
            conn = await client.post(url, "/v1/x", b"{}", (), stream=False)
            assert conn.status == 200 and await read_all(conn) == b"{}"
            conn.release()
            await asyncio.sleep(0.05)  # let the close arrive
        await client.aclose()
        server.close()
        return len(connections)

    assert asyncio.run(scenario()) == 3


@pytest.mark.parametrize(("behaviour", "kind"), [("hang", "timeout"), ("garbage", "protocol")])
def test_failures_before_the_first_byte(make_client: ClientFactory, behaviour: str, kind: str) -> None:
    async def scenario() -> UpstreamError:
        server, url, _ = await raw_server(behaviour)
        client = make_client(fast_timeouts())
        try:
            with pytest.raises(UpstreamError) as err:
                await client.post(url, "/v1/x", b"{}", (), stream=False)
            return err.value
        finally:
            await client.aclose()
            server.close()

    error = asyncio.run(scenario())
    assert error.kind == kind and error.sent_nothing == (behaviour == "hang")


def test_silence_between_chunks_times_out(make_client: ClientFactory) -> None:
    async def scenario() -> tuple[list[bytes], UpstreamError]:
        server, url, _ = await raw_server("stall-mid-body")
        client = make_client(fast_timeouts())
        conn = await client.post(url, "/v1/x", b"{}", (), stream=True)
        got: list[bytes] = []
        with pytest.raises(UpstreamError) as err:
            async for chunk in conn.chunks():
                got.append(chunk)
        conn.close()
        await client.aclose()
        server.close()
        return got, err.value

    got, error = asyncio.run(scenario())
    assert got == [b"hello"] and error.kind == "timeout" and not error.sent_nothing


def test_a_stall_after_the_first_chunk_is_cut_at_between_chunks_s(make_client: ClientFactory) -> None:
    """Silence after the first chunk is bounded by between_chunks_s, not by the longer first_byte_s."""

    async def scenario() -> float:
        server, url, _ = await raw_server("stall-mid-body")
        client = make_client(fast_timeouts(first_byte_s=3.0, between_chunks_s=0.2, total_s=5))
        loop = asyncio.get_running_loop()
        started = loop.time()
        conn = await client.post(url, "/v1/x", b"{}", (), stream=True)
        with pytest.raises(UpstreamError):
            async for _ in conn.chunks():
                pass
        conn.close()
        await client.aclose()
        server.close()
        return loop.time() - started

    assert asyncio.run(scenario()) < 1.5


def test_headers_without_a_first_chunk_wait_first_byte_s(make_client: ClientFactory) -> None:
    async def scenario() -> tuple[float, UpstreamError]:
        server, url, _ = await raw_server("headers-then-stall")
        client = make_client(fast_timeouts(first_byte_s=0.4, between_chunks_s=0.1, total_s=5))
        loop = asyncio.get_running_loop()
        started = loop.time()
        conn = await client.post(url, "/v1/x", b"{}", (), stream=True)
        with pytest.raises(UpstreamError) as err:
            async for _ in conn.chunks():
                pass
        conn.close()
        await client.aclose()
        server.close()
        return loop.time() - started, err.value

    elapsed, error = asyncio.run(scenario())
    assert 0.35 <= elapsed < 2.0 and error.kind == "timeout"


def test_a_body_shorter_than_its_content_length_is_a_reset(make_client: ClientFactory) -> None:
    async def scenario() -> UpstreamError:
        server, url, _ = await raw_server("short-body")
        client = make_client(fast_timeouts())
        conn = await client.post(url, "/v1/x", b"{}", (), stream=False)
        try:
            with pytest.raises(UpstreamError) as err:
                await read_all(conn)
            return err.value
        finally:
            conn.close()
            await client.aclose()
            server.close()

    error = asyncio.run(scenario())
    assert error.kind == "reset" and not error.sent_nothing


def test_connection_refused_is_a_connect_error(make_client: ClientFactory) -> None:
    async def scenario() -> str:
        client = make_client(fast_timeouts())
        try:
            with pytest.raises(UpstreamError) as err:
                await client.post("http://127.0.0.1:9", "/v1/x", b"{}", (), stream=False)
            return err.value.kind
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == "connect"


def test_request_headers_reach_the_engine(make_client: ClientFactory) -> None:
    async def scenario() -> bytes:
        upstream = RawUpstream()
        url = await upstream.start()
        client = make_client(fast_timeouts())
        conn = await client.post(url, "/v1/x", b'{"a":1}', (("X-Request-Id", "abc-1"),), stream=False)
        await read_all(conn)
        conn.release()
        await client.aclose()
        await upstream.stop()
        return upstream.last_request

    request = asyncio.run(scenario())
    assert b"\r\nX-Request-Id: abc-1\r\n" in request and request.endswith(b'\r\n\r\n{"a":1}')


MIB = 1 << 20
sizes = st.one_of(
    st.integers(0, 4096),
    st.sampled_from([BODY_HIGH_WATER - 1, BODY_HIGH_WATER, BODY_HIGH_WATER + 1, 2 * BODY_HIGH_WATER + 7]),
    st.integers(0, 5 * MIB),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=sizes,
    cut_fractions=st.lists(st.floats(0, 1), max_size=6),
    framing=st.sampled_from(["length", "chunked"]),
    small_first=st.booleans(),
)
def test_every_body_size_and_split_arrives_byte_for_byte(
    make_client: ClientFactory, size: int, cut_fractions: list[float], framing: str, small_first: bool
) -> None:
    body = random.Random(size).randbytes(size)
    splits = [int(f * size) for f in cut_fractions]

    async def scenario() -> tuple[bytes, int]:
        upstream = RawUpstream(answer=Answer(body=body, framing=framing, splits=splits))
        url = await upstream.start()
        client = make_client(fast_timeouts(first_byte_s=5, between_chunks_s=5, total_s=20))
        try:
            got = b""
            largest = 0
            for _ in range(2):  # twice: the second answer comes over the kept-alive connection
                conn = await client.post(url, "/v1/x", b"{}", (), stream=False)
                whole = await conn.read_small(BODY_HIGH_WATER) if small_first else None
                if whole is not None:
                    got, largest = whole, len(whole)
                else:
                    parts = [chunk async for chunk in conn.chunks()]
                    got, largest = b"".join(parts), max(map(len, parts), default=0)
                conn.release()
                assert got == body
            return got, largest
        finally:
            await client.aclose()
            await upstream.stop()

    got, largest = asyncio.run(scenario())
    assert got == body
    assert largest <= 2 * BODY_HIGH_WATER + 512 * 1024  # never the whole of a large body in one piece


def test_a_slow_consumer_gets_the_body_in_bounded_pieces(make_client: ClientFactory) -> None:
    size = 16 * MIB
    body = random.Random(1).randbytes(size)

    async def scenario() -> tuple[int, int]:
        upstream = RawUpstream(answer=Answer(body=body, splits=range(0, size, 64 * 1024)))
        url = await upstream.start()
        client = make_client(fast_timeouts(first_byte_s=5, between_chunks_s=0.3, total_s=30))
        conn = await client.post(url, "/v1/x", b"{}", (), stream=False)
        assert await conn.read_small(BODY_HIGH_WATER) is None
        received = 0
        largest = 0
        held_back = -1
        async for chunk in conn.chunks():
            received += len(chunk)
            largest = max(largest, len(chunk))
            if held_back < 0 and received > 2 * MIB:
                await asyncio.sleep(0.8)  # longer than between_chunks_s: our pause, not the engine's
                held_back = upstream.sent_body_bytes
        conn.release()
        await client.aclose()
        await upstream.stop()
        assert received == size
        return largest, held_back

    largest, held_back = asyncio.run(scenario())
    assert largest <= 2 * BODY_HIGH_WATER + 512 * 1024
    assert held_back < 12 * MIB  # the engine was held back while the consumer slept
