"""Fuzzed request bodies and headers through a live gateway never produce a 5xx from the gateway itself."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.conftest import Stack
from gateway.fake_engine import static_pool

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=15,
)
fields = st.dictionaries(
    st.sampled_from(
        [
            "model",
            "messages",
            "prompt",
            "input",
            "stream",
            "max_tokens",
            "max_completion_tokens",
            "user",
            "stream_options",
            "n",
        ]
    ),
    json_values,
    max_size=6,
)
with_model = fields.map(lambda d: {**d, "model": "tiny"})
raw_bodies = st.one_of(
    with_model.map(lambda d: json.dumps(d).encode()),
    fields.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=100),
    st.just(b'{"model": "tiny", "messages": [{"role": "user", "content": "' + b"\xff\xfe" + b'"}]}'),
)


@pytest.fixture
def gateway_port(stack: Stack) -> Iterator[int]:
    engine = stack.engine()
    base = stack.gateway(
        {
            "pools": [static_pool("tiny", [engine.url])],
            "admission": {"max_tokens_cap": 64, "max_prompt_tokens": 10_000},
        }
    )
    yield int(base.rsplit(":", 1)[1])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=raw_bodies,
    path=st.sampled_from(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]),
    request_id=st.text(max_size=200).filter(lambda s: "\r" not in s and "\n" not in s),
)
def test_fuzzed_bodies_never_get_a_500(gateway_port: int, body: bytes, path: str, request_id: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", gateway_port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        try:
            request_id.encode("latin-1")
            headers["X-Request-Id"] = request_id
        except UnicodeEncodeError:
            pass
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status < 500, data
    if resp.status >= 400 and resp.getheader("Content-Type", "").startswith("application/json"):
        assert "error" in json.loads(data)  # (malformed headers are refused by the HTTP parser in plain text)
