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


def vllm_limit(body: dict[str, object]) -> object:
    """The completion limit vLLM applies (``max_completion_tokens or max_tokens``; None = the context)."""
    return body.get("max_completion_tokens") or body.get("max_tokens")


limits = st.one_of(st.none(), st.integers(0, 10**13))


@settings(max_examples=300, deadline=None)
@given(max_tokens=limits, max_completion_tokens=limits, cap=st.integers(1, 10**6))
def test_the_cap_binds_whatever_limit_the_engine_reads(
    max_tokens: int | None, max_completion_tokens: int | None, cap: int
) -> None:
    body: dict[str, object] = {"model": "m", "prompt": "x"}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if max_completion_tokens is not None:
        body["max_completion_tokens"] = max_completion_tokens
    parsed = parse_request("/v1/completions", json.dumps(body).encode())
    before = dict(parsed.body)
    changed = cap_max_tokens(parsed, cap)
    limit = vllm_limit(parsed.body)
    if max_tokens == 0 and not max_completion_tokens:
        assert limit == 0 and not changed  # an explicit 0 is the engine's to refuse, not ours to raise
    else:
        assert isinstance(limit, int) and 0 < limit <= cap
    assert changed == (parsed.body != before)
    assert parsed.max_tokens == limit
    for field in ("max_tokens", "max_completion_tokens"):  # never raised, only lowered or set
        if isinstance(before.get(field), int):
            assert parsed.body[field] == min(before[field], cap)  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("prompt", "tokens"),
    [
        ([1, 2, 3], 3),
        ([[1, 2], [3, 4, 5]], 5),
        (["abcd" * 3, [1, 2]], 5),
        ("abcdefgh", 2),
        ([], 0),
        ([True, False], 0),
        ([[]], 0),
    ],
)
def test_prompt_tokens_count_token_ids_and_text(prompt: object, tokens: int) -> None:
    for path, field in (("/v1/completions", "prompt"), ("/v1/embeddings", "input")):
        parsed = parse_request(path, json.dumps({"model": "m", field: prompt}).encode())
        assert parsed.prompt_tokens == tokens


def test_token_id_prompts_route_by_their_first_ids() -> None:
    a = parse_request("/v1/completions", json.dumps({"model": "m", "prompt": [5, 6, 7, 8]}).encode())
    b = parse_request("/v1/completions", json.dumps({"model": "m", "prompt": [[5, 6, 7, 9]]}).encode())
    assert a.prefix.startswith("5,6,7") and b.prefix.startswith("5,6,7")


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
