"""The upstream client suite's edges, over both clients alike: response headers and statuses as the relay
reads them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.raw_upstream import Answer, RawUpstream
from kubellm.gateway.upstream import UpstreamClient, read_all
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
