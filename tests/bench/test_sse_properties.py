"""The SSE parser under every framing the SSE standard allows: ``data:`` with or without the space, lines
ended by LF, CRLF or a lone CR (mixed within one stream), comments, and the body cut at every byte."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.bench.client import SseParser
from kubellm.bench.summary import RequestRecord
from kubellm.spec.bench import TokenSource

NEWLINES = (b"\n", b"\r\n", b"\r")


def _line(payload: bytes, space: bool, newline: bytes) -> bytes:
    return b"data:" + (b" " if space else b"") + payload + newline


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, int]:
    """A valid chat stream of ``tokens`` content chunks, each line framed its own way."""
    tokens = draw(st.integers(1, 6))
    framing = st.tuples(st.booleans(), st.sampled_from(NEWLINES))

    def event(data: object) -> bytes:
        space, newline = draw(framing)
        return _line(json.dumps(data).encode(), space, newline) + newline

    parts = [b": keep-alive" + draw(st.sampled_from(NEWLINES)) * 2]
    parts.append(event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}))
    parts += [event({"choices": [{"index": 0, "delta": {"content": f"w{k} "}}]}) for k in range(tokens)]
    parts.append(event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": tokens}}))
    space, newline = draw(framing)
    parts.append(_line(b"[DONE]", space, newline) + newline)
    return b"".join(parts), tokens


def _parse(pieces: list[bytes]) -> RequestRecord:
    rec = RequestRecord(start_s=0.0, sent_s=0.0)
    parser = SseParser(rec)
    for i, piece in enumerate(pieces):
        if not parser.feed(piece, float(i)):
            return rec
    parser.finish()
    return rec


def _assert_complete(rec: RequestRecord, tokens: int) -> None:
    assert rec.error is None, rec.error_message
    assert len(rec.content_times_s) == tokens
    assert rec.output_tokens == tokens and rec.prompt_tokens == 3
    assert rec.token_source == TokenSource.USAGE


@settings(max_examples=60, deadline=None)
@given(streams())
def test_every_single_cut_of_any_framing_parses_the_same(stream: tuple[bytes, int]) -> None:
    data, tokens = stream
    for cut in range(len(data) + 1):
        _assert_complete(_parse([data[:cut], data[cut:]]), tokens)


@settings(max_examples=40, deadline=None)
@given(streams())
def test_byte_by_byte_delivery_parses_the_same(stream: tuple[bytes, int]) -> None:
    data, tokens = stream
    rec = _parse([data[i : i + 1] for i in range(len(data))])
    _assert_complete(rec, tokens)
    assert rec.content_times_s == sorted(rec.content_times_s)


@given(st.sampled_from(NEWLINES), st.booleans())
def test_a_stream_cut_inside_an_event_is_named(newline: bytes, space: bool) -> None:
    head = _line(json.dumps({"choices": [{"delta": {"content": "a"}}]}).encode(), space, newline) + newline
    rec = _parse([head + b'data: {"choices": [{"delta": {"cont'])
    assert rec.error == "malformed_sse"
