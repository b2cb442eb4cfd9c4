"""Request parsing never crashes on client input; usage is found in answers and stream tails."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.gateway.payload import UsageScanner, cap_max_tokens, parse_request, usage_of
from kubellm.gateway.rejection import Rejection

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.dictionaries(
    st.sampled_from(["model", "messages", "prompt", "input", "stream", "max_tokens", "user", "x"]),
    json_values,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(bodies.map(lambda b: json.dumps(b).encode()), st.binary(max_size=60)),
    st.sampled_from(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]),
)
def test_any_body_parses_or_is_a_400(raw: bytes, path: str) -> None:
    try:
        parsed = parse_request(path, raw)
    except Rejection as rejection:
        assert rejection.status == 400
        assert json.loads(rejection.body())["error"]["type"] == "invalid_request_error"
    else:
        assert isinstance(parsed.model, str) and parsed.prompt_tokens >= 0 and parsed.estimated_tokens >= 0


def test_chat_prompt_size_counts_text_parts() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a" * 40}, {"type": "image_url", "image_url": {}}],
            },
            {"role": "user", "content": "b" * 40},
        ],
        "max_tokens": 10,
    }
    parsed = parse_request("/v1/chat/completions", json.dumps(body).encode())
    assert parsed.prompt_tokens == 21 and parsed.estimated_tokens == 31


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"[]",
        b'{"model": 3}',
        b'{"model": "m", "messages": "hi"}',
        b'{"model": "m", "messages": [], "stream": "yes"}',
        b'{"model": "m", "messages": [], "max_tokens": -1}',
    ],
)
def test_unusable_bodies_are_400(raw: bytes) -> None:
    with pytest.raises(Rejection) as err:
        parse_request("/v1/chat/completions", raw)
    assert err.value.status == 400


def test_cap_lowers_or_sets_max_tokens() -> None:
    parsed = parse_request("/v1/completions", b'{"model": "m", "prompt": "x", "max_tokens": 900}')
    assert cap_max_tokens(parsed, 100) and parsed.body["max_tokens"] == 100
    parsed = parse_request("/v1/completions", b'{"model": "m", "prompt": "x"}')
    assert cap_max_tokens(parsed, 100) and parsed.body["max_tokens"] == 100
    parsed = parse_request("/v1/completions", b'{"model": "m", "prompt": "x", "max_tokens": 5}')
    assert not cap_max_tokens(parsed, 100)


def test_usage_from_answer_and_stream_tail() -> None:
    answer = b'{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}}'
    assert usage_of(answer) == (12, 30)
    tail = (
        b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\ndata: [DONE]\n\n'
    )
    assert usage_of(tail) == (3, 4)
    assert usage_of(b'data: {"usage": null}') is None
    nested = b'{"usage": {"prompt_tokens": 7, "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens": 9}}'
    assert usage_of(nested) == (7, 9)


usage_objects = st.builds(
    lambda p, c, pad, ws: (
        '"usage"'
        + ws
        + ":"
        + ws
        + "{"
        + f'"prompt_tokens": {p},'
        + " " * pad
        + f'"completion_tokens": {c}'
        + "}"
    ).encode(),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 600),
    st.sampled_from(["", " ", "\n  "]),
)
fillers = st.binary(max_size=3000).map(lambda b: b.replace(b'"', b"'"))


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.one_of(usage_objects, fillers), max_size=6),
    cuts=st.lists(st.integers(0, 20_000), max_size=8),
)
def test_usage_scanned_in_pieces_equals_usage_of_the_whole(parts: list[bytes], cuts: list[int]) -> None:
    body = b"".join(parts)
    bounds = [0, *sorted(c for c in cuts if c < len(body)), len(body)]
    scanner = UsageScanner()
    for a, b in itertools.pairwise(bounds):
        scanner.feed(body[a:b])
    assert scanner.usage == usage_of(body)
