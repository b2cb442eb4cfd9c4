"""The SSE parser: the same record whatever way the bytes are cut, and every broken stream named."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from kubellm.bench.client import SseParser
from kubellm.bench.summary import RequestRecord
from kubellm.spec.bench import TokenSource


def _event(data: object) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\r\n\r\n"


def _stream(tokens: int) -> bytes:
    role = _event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    content = b"".join(
        _event({"choices": [{"index": 0, "delta": {"content": f' w{k} "q" content'}}]}) for k in range(tokens)
    )
    usage = _event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": tokens}})
    return b": keep-alive comment\n\n" + role + content + usage + b"data: [DONE]\n\n"


def _parse(pieces: list[bytes]) -> RequestRecord:
    rec = RequestRecord(start_s=0.0, sent_s=0.0)
    parser = SseParser(rec)
    for i, piece in enumerate(pieces):
        if not parser.feed(piece, float(i)):
            return rec
    parser.finish()
    return rec


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(st.integers(min_value=1, max_value=12), st.lists(st.integers(min_value=0), max_size=30))
def test_any_cutting_of_a_valid_stream_gives_the_same_counts(tokens: int, cuts: list[int]) -> None:
    rec = _parse(_cut(_stream(tokens), cuts))
    assert rec.error is None
    assert len(rec.content_times_s) == tokens  # the empty role chunk is not content
    assert rec.content_times_s == sorted(rec.content_times_s)
    assert rec.output_tokens == tokens and rec.prompt_tokens == 3
    assert rec.token_source == TokenSource.USAGE


def test_one_piece_stamps_every_event_with_its_arrival() -> None:
    rec = _parse([_stream(3)])
    assert rec.content_times_s == [0.0, 0.0, 0.0]


@given(st.lists(st.integers(min_value=0), max_size=10))
def test_broken_streams_are_named(cuts: list[int]) -> None:
    good = _stream(2)
    assert _parse(_cut(good.replace(b"data: [DONE]\n\n", b""), cuts)).error == "incomplete_stream"
    assert _parse(_cut(good[:-3], cuts)).error == "malformed_sse"  # ends inside an event
    # Events carrying usage or an error are parsed, so broken JSON there is caught (other events are
    # only checked for their {…} shape: that is what keeps the client cheap per chunk).
    broken = good.replace(b'"completion_tokens": 2}', b'"completion_tokens": 2,}')
    assert _parse(_cut(broken, cuts)).error == "malformed_sse"
    assert _parse(_cut(good.replace(b'"content": " w1', b'"content" " w1'), cuts)).error is None
    err = _event({"error": {"message": "KV cache exhausted"}})
    rec = _parse(_cut(good.replace(b"data: [DONE]", err + b"data: [DONE]"), cuts))
    assert rec.error == "stream_error" and "KV cache exhausted" in rec.error_message


def test_first_event_without_choices_is_malformed() -> None:
    rec = _parse([_event({"text": "not the OpenAI shape"}) + b"data: [DONE]\n\n"])
    assert rec.error == "malformed_sse" and "choices" in rec.error_message


def test_without_usage_tokens_are_counted_by_chunks_or_tokenizer() -> None:
    data = _stream(4).replace(
        _event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}), b""
    )
    rec = _parse([data])
    assert rec.token_source == TokenSource.CHUNKS and rec.output_tokens == 4
    rec = RequestRecord(start_s=0.0, sent_s=0.0)
    parser = SseParser(rec, keep_texts=True)
    parser.feed(data, 1.0)
    parser.finish(lambda text: len(text.split()))
    assert rec.token_source == TokenSource.TOKENIZER and rec.output_tokens == 12  # 'wK "q" content' × 4
