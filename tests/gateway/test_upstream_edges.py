"""The upstream client suite's edges, over both clients alike: response headers and statuses as the relay
reads them, bodies read whole, and what a failure says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.raw_upstream import Answer, RawUpstream
from kubellm.gateway.upstream import UpstreamClient, UpstreamError, read_all
from kubellm.gateway.upstream_aiohttp import AiohttpUpstreamClient
from kubellm.gateway.upstream_httptools import HttptoolsUpstreamClient
from kubellm.spec.gateway import TimeoutConfig

ClientFactory = Callable[[TimeoutConfig], UpstreamClient]
CLIENTS: dict[str, ClientFactory] = {"httptools": HttptoolsUpstreamClient, "aiohttp": AiohttpUpstreamClient}


@pytest.fixture(params=sorted(CLIENTS))
def make_client(request: pytest.FixtureRequest) -> ClientFactory:
    return CLIENTS[request.param]


def _timeouts(**overrides: float) -> TimeoutConfig:
    return TimeoutConfig(
        **{"connect_s": 1, "first_byte_s": 1, "between_chunks_s": 1, "total_s": 5, **overrides}
    )


def test_headers_are_found_by_lower_case_name_first_value_first(make_client: ClientFactory) -> None:
    answer = Answer(
        body=b'{"error": "busy"}',
        status=503,
        extra_headers=(("Retry-After", "7"), ("X-Twice", "one"), ("X-Twice", "two")),
    )

    async def scenario() -> tuple[int, list[str | None], bytes]:
        upstream = RawUpstream(answer=answer)
        url = await upstream.start()
        client = make_client(_timeouts())
        try:
            conn = await client.post(url, "/v1/chat/completions", b"{}", (), stream=False)
            names = ["retry-after", "x-twice", "content-type", "content-length", "x-missing"]
            found = [conn.header(name) for name in names]
            body = await read_all(conn)
            conn.release()
            return conn.status, found, body
        finally:
            await client.aclose()
            await upstream.stop()

    status, found, body = asyncio.run(scenario())
    assert status == 503 and body == b'{"error": "busy"}'
    assert found == ["7", "one", "application/json", "17", None]


def test_read_all_joins_a_body_sent_in_pieces(make_client: ClientFactory) -> None:
    body = b'{"choices": [{"text": "' + b"x" * 5000 + b'"}]}'
    answer = Answer(body=body, framing="chunked", splits=(1, 100, 4000), pause_between_s=0.05)

    async def scenario() -> bytes:
        upstream = RawUpstream(answer=answer)
        url = await upstream.start()
        client = make_client(_timeouts())
        try:
            conn = await client.post(url, "/v1/completions", b"{}", (), stream=True)
            got = await read_all(conn)
            conn.release()
            return got
        finally:
            await client.aclose()
            await upstream.stop()

    assert asyncio.run(scenario()) == body


def test_a_refused_connection_says_so_in_its_message(make_client: ClientFactory) -> None:
    """The gateway logs the error's text: it must say what went wrong, not be empty."""

    async def scenario() -> UpstreamError:
        client = make_client(_timeouts())
        try:
            with pytest.raises(UpstreamError) as err:
                await client.post("http://127.0.0.1:9", "/v1/x", b"{}", (), stream=False)
            return err.value
        finally:
            await client.aclose()

    error = asyncio.run(scenario())
    assert str(error).startswith("cannot connect") and error.kind == "connect" and error.sent_nothing
