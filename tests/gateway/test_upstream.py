"""The upstream client: keep-alive reuse, stale connections, timeouts, broken answers."""

from __future__ import annotations

import asyncio

import pytest

from kubellm.gateway.upstream import UpstreamClient, UpstreamError
from kubellm.spec.gateway import TimeoutConfig

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


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


def fast_timeouts() -> TimeoutConfig:
    return TimeoutConfig(connect_s=1, first_byte_s=0.2, between_chunks_s=0.2, total_s=2)


def test_keep_alive_connections_are_reused() -> None:
    async def scenario() -> int:
        server, url, connections = await raw_server("ok")
        client = UpstreamClient(fast_timeouts())
        for _ in range(5):
            conn = await client.post(url, "/v1/x", b"{}", b"", stream=False)
            assert await conn.read() == b"{}"
            conn.release()
        client.close()
        server.close()
        return len(connections)

    assert asyncio.run(scenario()) == 1


def test_a_stale_idle_connection_is_replaced_transparently() -> None:
    async def scenario() -> int:
        server, url, connections = await raw_server("close-after-one")
        client = UpstreamClient(fast_timeouts())
        for _ in range(3):
            conn = await client.post(url, "/v1/x", b"{}", b"", stream=False)
            assert conn.status == 200 and await conn.read() == b"{}"
            conn.release()
            await asyncio.sleep(0.05)  # let the close arrive
        client.close()
        server.close()
        return len(connections)

    assert asyncio.run(scenario()) == 3


@pytest.mark.parametrize(("behaviour", "kind"), [("hang", "timeout"), ("garbage", "protocol")])
def test_failures_before_the_first_byte(behaviour: str, kind: str) -> None:
    async def scenario() -> UpstreamError:
        server, url, _ = await raw_server(behaviour)
        client = UpstreamClient(fast_timeouts())
        try:
            with pytest.raises(UpstreamError) as err:
                await client.post(url, "/v1/x", b"{}", b"", stream=False)
            return err.value
        finally:
            client.close()
            server.close()

    error = asyncio.run(scenario())
    assert error.kind == kind and error.sent_nothing == (behaviour == "hang")


def test_silence_between_chunks_times_out() -> None:
    async def scenario() -> tuple[list[bytes], UpstreamError]:
        server, url, _ = await raw_server("stall-mid-body")
        client = UpstreamClient(fast_timeouts())
        conn = await client.post(url, "/v1/x", b"{}", b"", stream=True)
        got: list[bytes] = []
        with pytest.raises(UpstreamError) as err:
            async for chunk in conn.chunks():
                got.append(chunk)
        conn.close()
        client.close()
        server.close()
        return got, err.value

    got, error = asyncio.run(scenario())
    assert got == [b"hello"] and error.kind == "timeout" and not error.sent_nothing


def test_connection_refused_is_a_connect_error() -> None:
    async def scenario() -> str:
        client = UpstreamClient(fast_timeouts())
        with pytest.raises(UpstreamError) as err:
            await client.post("http://127.0.0.1:9", "/v1/x", b"{}", b"", stream=False)
        return err.value.kind

    assert asyncio.run(scenario()) == "connect"
