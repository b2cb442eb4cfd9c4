"""The SSE parser's edges: where a broken stream stops and what it is called, error events in their
several shapes, completions-style and multi-choice events on the tokenizer path, what is parsed only on
demand — and the human part of an HTTP error body (OpenAI, FastAPI and plain shapes)."""

from __future__ import annotations

import json

import pytest

from kubellm.bench.client import SseParser, error_message_of
from kubellm.bench.summary import RequestRecord
from kubellm.spec.bench import TokenSource

DONE = b"data: [DONE]\n\n"


def _event(data: object) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _chat(content: str) -> bytes:
    return _event({"choices": [{"index": 0, "delta": {"content": content}}]})


def _record() -> RequestRecord:
    return RequestRecord(start_s=0.0, sent_s=0.0)


def _feed_all(pieces: list[bytes], **parser_args: bool) -> tuple[RequestRecord, SseParser, list[bool]]:
    rec = _record()
    parser = SseParser(rec, **parser_args)
    answers = []
    for i, piece in enumerate(pieces, start=1):
        answers.append(parser.feed(piece, float(i)))
        if not answers[-1]:
            break
    return rec, parser, answers


# --- where a broken stream stops -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "error", "says"),
    [
        (b"data: hello\n\n", "malformed_sse", "not a JSON event"),
        (b'data: {"choices": [{"delta": {"content": "x"}}]\n\n', "malformed_sse", "not a JSON event"),
        (b'data: "choices": []}\n\n', "malformed_sse", "not a JSON event"),
        (
            b'data: {"choices": [{"delta": {"content": "x"}}], "usage": {"completion_tokens": }}\n\n',
            "malformed_sse",
            "invalid JSON",
        ),
        (_event({"error": {"message": "KV cache exhausted"}}), "stream_error", "KV cache exhausted"),
    ],
)
def test_a_broken_event_stops_the_stream_at_its_arrival(bad: bytes, error: str, says: str) -> None:
    rec, _, answers = _feed_all([_chat("a"), bad, _chat("b") + DONE])
    assert answers == [True, False]  # the reader stops at the broken event, nothing after it is read
    assert rec.error == error and says in (rec.error_message or "")
    assert rec.end_s == 2.0  # the time the broken piece arrived
    assert rec.content_times_s == [1.0]


def test_a_first_event_that_is_not_a_chat_chunk_stops_the_stream() -> None:
    rec, _, answers = _feed_all([_event({"object": "list", "data": []}), _chat("a") + DONE])
    assert answers == [False]
    assert rec.error == "malformed_sse" and "'choices'" in (rec.error_message or "")
    assert rec.end_s == 1.0


def test_a_first_event_that_is_not_json_stops_the_stream() -> None:
    rec, _, answers = _feed_all([b"data: {not json}\n\n", _chat("a") + DONE])
    assert answers == [False]
    assert rec.error == "malformed_sse" and "invalid JSON" in (rec.error_message or "")
    assert rec.end_s == 1.0


def test_a_broken_event_after_done_in_the_same_read_is_still_caught() -> None:
    rec, _, answers = _feed_all([_chat("a") + DONE + b"data: garbage\n\n"])
    assert answers == [False] and rec.error == "malformed_sse"


# --- error events in their shapes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ({"message": "KV cache exhausted", "code": 503}, "KV cache exhausted"),
        ("the engine is overloaded", "the engine is overloaded"),
        ({"code": 503, "type": "overloaded"}, "{'code': 503, 'type': 'overloaded'}"),
    ],
)
def test_an_error_event_shows_its_message(error: object, shown: str) -> None:
    rec, _, answers = _feed_all([_chat("a") + _event({"error": error}) + DONE])
    assert answers == [False]
    assert rec.error == "stream_error"
    assert rec.error_message == f"error event in the stream: {shown}"


def test_an_empty_error_field_is_not_an_error() -> None:
    rec, parser, answers = _feed_all([_chat("a") + _event({"choices": [], "error": None}) + DONE])
    parser.finish()
    assert answers == [True] and rec.error is None


# --- how the stream ended --------------------------------------------------------------------------


def test_an_empty_body_is_an_incomplete_stream() -> None:
    rec = _record()
    SseParser(rec).finish()
    assert rec.error == "incomplete_stream"
    assert rec.error_message == "stream ended without 'data: [DONE]'"


def test_a_stream_without_done_names_the_missing_terminator() -> None:
    rec, parser, _ = _feed_all([_chat("a")])
    parser.finish()
    assert rec.error == "incomplete_stream" and "'data: [DONE]'" in (rec.error_message or "")


def test_a_stream_with_no_content_is_named() -> None:
    rec, parser, _ = _feed_all([_chat("") + DONE])
    parser.finish()
    assert rec.error == "no_content" and rec.error_message == "the response streamed no content"
    assert rec.output_tokens is None


def test_a_stream_cut_inside_an_event_quotes_the_rest() -> None:
    rec, parser, _ = _feed_all([_chat("a") + b'data: {"choi'])
    parser.finish()
    assert rec.error == "malformed_sse" and '{"choi' in (rec.error_message or "")


# --- the tokenizer path, and what is parsed only on demand -------------------------------------------


def test_kept_texts_without_a_tokenizer_count_chunks() -> None:
    rec, parser, _ = _feed_all([_chat("ab") + _chat("cd") + DONE], keep_texts=True)
    parser.finish(None)
    assert rec.token_source == TokenSource.CHUNKS and rec.output_tokens == 2


def test_the_tokenizer_sees_the_concatenated_text() -> None:
    rec, parser, _ = _feed_all([_chat("ab") + _chat("cde") + DONE], keep_texts=True)
    parser.finish(len)
    assert rec.token_source == TokenSource.TOKENIZER and rec.output_tokens == 5


def test_completions_events_and_several_choices_reach_the_tokenizer() -> None:
    completions = _event({"choices": [{"index": 0, "text": "abc"}]})
    two_choices = _event(
        {"choices": [{"index": 0, "delta": {"content": "de"}}, {"index": 1, "delta": {"content": "f"}}]}
    )
    odd_choice = _event({"choices": ["not an object", {"index": 0, "delta": {"content": "gh"}}]})
    rec, parser, _ = _feed_all([completions + two_choices + odd_choice + DONE], keep_texts=True)
    parser.finish(len)
    assert rec.error is None and rec.output_tokens == len("abcdefgh")


def test_without_a_tokenizer_content_events_are_not_parsed() -> None:
    # Content events are only checked for their {…} shape by default (what keeps the client cheap);
    # asked to keep texts for a tokenizer, the parser must read them, and a broken one is an error.
    broken = b'data: {"choices": [{"delta": {"content": "x"}}],}\n\n'
    rec, parser, answers = _feed_all([_chat("a") + broken + DONE])
    parser.finish()
    assert answers == [True] and rec.error is None and len(rec.content_times_s) == 2
    with pytest.raises(ValueError):
        _feed_all([_chat("a") + broken + DONE], keep_texts=True)


def test_a_null_usage_is_not_parsed() -> None:
    # Only a usage *object* makes an event worth parsing; "usage": null rides along with content.
    broken = b'data: {"choices": [{"delta": {"content": "x"}}], "usage": null,}\n\n'
    rec, parser, answers = _feed_all([_chat("a") + broken + DONE])
    parser.finish()
    assert answers == [True] and rec.error is None and rec.output_tokens == 2


# --- the human part of an HTTP error body ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "model not found", "type": "invalid_request_error"}}', "model not found"),
        (b'{"error": {"detail": "too long"}}', "too long"),
        (b'{"error": {"msg": "bad field"}}', "bad field"),
        (b'{"error": "quota exceeded"}', "quota exceeded"),
        (b'{"detail": "Not Found"}', "Not Found"),
        (
            b'{"detail": [{"loc": ["body"], "msg": "field required"}]}',
            "[{'loc': ['body'], 'msg': 'field required'}]",
        ),
        (b'{"message": "Unauthorized"}', "Unauthorized"),
        (b"  upstream connect error  \n", "upstream connect error"),
        (b'{"status": "down"}', '{"status": "down"}'),
        (b"[1, 2]", "[1, 2]"),
        ("café fermé".encode() + b"\xff", "café fermé\ufffd"),
    ],
)
def test_error_bodies_give_their_human_part(body: bytes, message: str) -> None:
    assert error_message_of(body) == message


def test_an_error_object_without_a_message_falls_back_to_detail() -> None:
    assert error_message_of(b'{"error": {"code": 500}, "detail": "engine died"}') == "engine died"


def test_long_error_bodies_are_cut() -> None:
    long_text = "x" * 3000
    for body in (long_text.encode(), json.dumps({"error": {"message": long_text}}).encode()):
        message = error_message_of(body)
        assert 0 < len(message) < 1000 and long_text.startswith(message)
    huge = json.dumps({"error": {"message": "y" * 10_000}})  # past what is read: shown as text, cut
    assert huge.startswith(error_message_of(huge.encode())) and len(error_message_of(huge.encode())) < 1000
