"""Non-streamed answers of any size pass through the gateway byte for byte, with bounded memory.

A raw engine on 127.0.0.1 sends exact bytes (Content-Length or chunked, cut into separate writes);
the client is http.client (raw bytes) or the openai SDK. Before the fix, any answer over the upstream
client's high-water mark (1 MiB) stalled until ``first_byte_s`` and came back as a 502.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import time
from collections.abc import Iterator

import pytest

from gateway.clients import client
from gateway.conftest import Stack
from gateway.fake_engine import static_pool
from gateway.raw_upstream import Answer, RawUpstream

MIB = 1 << 20


@pytest.fixture
def raw(stack: Stack) -> Iterator[RawUpstream]:
    upstream = RawUpstream()
    stack.loop.run(upstream.start())
    yield upstream
    stack.loop.run(upstream.stop())


def gateway_for(stack: Stack, url: str, **timeouts: float) -> tuple[str, int]:
    base = stack.gateway(
        {
            "pools": [static_pool("tiny", [url])],
            "health_checks": {"enabled": False},
            "timeouts": {"first_byte_s": 3, "between_chunks_s": 3, **timeouts},
        }
    )
    return base, int(base.rsplit(":", 1)[1])


def fetch(port: int, body: bytes = b'{"model":"tiny","prompt":"x"}') -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("size", "framing"),
    [
        (0, "length"),
        (1, "chunked"),
        (MIB - 1, "length"),
        (MIB + 1, "chunked"),
        (3 * MIB + 5, "length"),
        (64 * MIB, "length"),
        (64 * MIB, "chunked"),
    ],
)
def test_answers_of_any_size_are_relayed_byte_for_byte(
    stack: Stack, raw: RawUpstream, size: int, framing: str
) -> None:
    body = random.Random(size).randbytes(size)
    raw.answer = Answer(body=body, framing=framing, splits=range(0, size, 256 * 1024))
    _, port = gateway_for(stack, raw.url)
    status, headers, data = fetch(port)
    assert status == 200
    assert len(data) == size and data == body
    if framing == "length":
        assert headers["Content-Length"] == str(size)


def test_a_slow_reader_holds_back_the_engine_instead_of_filling_memory(
    stack: Stack, raw: RawUpstream
) -> None:
    size = 64 * MIB
    body = random.Random(7).randbytes(size)
    raw.answer = Answer(body=body, splits=range(0, size, 64 * 1024))
    _, port = gateway_for(stack, raw.url, between_chunks_s=5)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    request = b'{"model":"tiny","prompt":"x"}'
    sock.sendall(
        b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(request)}\r\n\r\n".encode()
        + request
    )
    first = sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200")
    time.sleep(1.5)  # the client reads nothing: the gateway must stop reading the engine
    held_back = raw.sent_body_bytes
    # kernel socket buffers on both hops plus the gateway's high-water marks, far below the body
    assert held_back < 24 * MIB, held_back
    received = bytearray(first)
    sock.settimeout(30)
    while len(received) < size:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        received += chunk
    sock.close()
    _head, _, data = bytes(received).partition(b"\r\n\r\n")
    assert data == body


def test_an_answer_that_breaks_mid_body_is_cut_not_completed(stack: Stack, raw: RawUpstream) -> None:
    size = 4 * MIB
    raw.answer = Answer(body=b"x" * size, splits=range(0, size, 256 * 1024), stall_after=2 * MIB)
    _, port = gateway_for(stack, raw.url, between_chunks_s=0.5)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/v1/completions", body=b'{"model":"tiny","prompt":"x"}')
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as err:
        resp.read()
    assert len(err.value.partial) < size  # the client can tell: never a short body that looks whole
    conn.close()


def test_large_embeddings_batch_through_the_openai_sdk(stack: Stack, raw: RawUpstream) -> None:
    rng = random.Random(3)
    answer = {
        "object": "list",
        "model": "tiny",
        "data": [
            {"object": "embedding", "index": i, "embedding": [rng.uniform(-1, 1) for _ in range(768)]}
            for i in range(256)
        ],
        "usage": {"prompt_tokens": 512, "total_tokens": 512},
    }
    body = json.dumps(answer).encode()
    assert len(body) > 3 * MIB
    raw.answer = Answer(body=body, splits=range(0, len(body), 100_000))
    base, _ = gateway_for(stack, raw.url)
    direct = client(raw.url).embeddings.create(model="tiny", input=["a"] * 256)
    through = client(base).embeddings.create(model="tiny", input=["a"] * 256)
    assert through.model_dump() == direct.model_dump()
    assert len(through.data) == 256
