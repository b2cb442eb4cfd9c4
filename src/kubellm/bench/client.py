"""One streaming request, timed: the load generator's hot path.

The work per chunk is kept to a few byte comparisons and one regular-expression search: the first
``data:`` payload of each response is parsed as JSON (to catch servers that do not speak the OpenAI
stream format), later payloads are only checked for shape (``{…}``), for non-empty content, and for
``usage``/``error`` keys, which are parsed when present. Chunks are read as they arrive
(``iter_any``), and every SSE event completed by one read is stamped with that read's time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from kubellm.bench.summary import RequestRecord
from kubellm.spec.bench import TokenSource

# A non-empty content (chat delta) or text (completions) string. Inside JSON strings quotes are escaped,
# so `"content"` followed by a colon only matches a key ("reasoning_content" does not match either).
_CONTENT = re.compile(rb'"(?:content|text)"\s*:\s*"(?!")')
_USAGE = re.compile(rb'"usage"\s*:\s*\{')
_MAX_ERROR_BODY = 400

Clock = Callable[[], float]


def error_message_of(body: bytes) -> str:
    """The human part of an error response body (OpenAI, FastAPI or plain text shapes)."""
    text = body[:4096].decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_MAX_ERROR_BODY]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("msg")
            if msg:
                return str(msg)[:_MAX_ERROR_BODY]
        elif isinstance(err, str):
            return err[:_MAX_ERROR_BODY]
        if "detail" in data:
            return str(data["detail"])[:_MAX_ERROR_BODY]
    return text[:_MAX_ERROR_BODY]


def _content_text(data: dict[str, Any]) -> str:
    parts: list[str] = []
    for choice in data.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


def _parsed_event(payload: bytes, rec: RequestRecord, first: bool) -> bool:
    """Parse one event fully; record usage or an error. False when the stream must stop."""
    try:
        data = json.loads(payload)
    except ValueError:
        rec.error, rec.error_message = "malformed_sse", f"invalid JSON in event: {payload[:120]!r}"
        return False
    if not isinstance(data, dict):
        rec.error, rec.error_message = "malformed_sse", f"event is not a JSON object: {payload[:120]!r}"
        return False
    err = data.get("error")
    if err:
        message = err.get("message", err) if isinstance(err, dict) else err
        rec.error, rec.error_message = "stream_error", f"error event in the stream: {str(message)[:300]}"
        return False
    if first and not isinstance(data.get("choices"), list):
        rec.error, rec.error_message = "malformed_sse", f"event has no 'choices' list: {payload[:120]!r}"
        return False
    usage = data.get("usage")
    if isinstance(usage, dict):
        completion = usage.get("completion_tokens")
        prompt = usage.get("prompt_tokens")
        if isinstance(completion, int):
            rec.output_tokens = completion
        if isinstance(prompt, int):
            rec.prompt_tokens = prompt
    return True


class SseParser:
    """Reads one response's SSE bytes, in whatever pieces they arrive, into a RequestRecord.

    Every event completed by a piece is stamped with that piece's arrival time. The first event and
    any ``usage``/``error`` event are parsed as JSON; the others are only checked for shape and for
    non-empty content. ``feed`` returns False once the stream is known to be broken (the record then
    carries the error).
    """

    __slots__ = ("_buf", "_first", "done", "rec", "texts")

    def __init__(self, rec: RequestRecord, keep_texts: bool = False) -> None:
        self.rec = rec
        self.texts: list[str] | None = [] if keep_texts else None
        self.done = False
        self._buf = b""
        self._first = True

    def feed(self, data: bytes, now: float) -> bool:
        """Take the next piece of the body, received at ``now``."""
        rec = self.rec
        if self._buf:
            data = self._buf + data
        if b"\r" in data:  # SSE lines may end in CRLF or a lone CR too (a CRLF split over pieces is two ends)
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._buf = lines.pop()
        for line in lines:
            if line[:5] != b"data:":
                continue
            payload = line[5:].strip()
            if payload[:1] != b"{" or payload[-1:] != b"}":
                if payload == b"[DONE]":
                    self.done = True
                    continue
                rec.error, rec.error_message = "malformed_sse", f"not a JSON event: {payload[:120]!r}"
                rec.end_s = now
                return False
            if self._first or b'"error"' in payload or (b'"usage"' in payload and _USAGE.search(payload)):
                if not _parsed_event(payload, rec, self._first):
                    rec.end_s = now
                    return False
                self._first = False
            if _CONTENT.search(payload):
                rec.content_times_s.append(now)
                if self.texts is not None:
                    self.texts.append(_content_text(json.loads(payload)))
        return True

    def finish(self, count_tokens: Callable[[str], int] | None = None) -> None:
        """The body ended: judge its completeness and settle the output token count and its source."""
        rec = self.rec
        if self._buf.strip():
            rec.error, rec.error_message = (
                "malformed_sse",
                f"stream ended inside an event: {self._buf[:120]!r}",
            )
        elif not self.done:
            rec.error, rec.error_message = "incomplete_stream", "stream ended without 'data: [DONE]'"
        elif not rec.content_times_s:
            rec.error, rec.error_message = "no_content", "the response streamed no content"
        elif rec.output_tokens is not None:
            rec.token_source = TokenSource.USAGE
        elif self.texts is not None and count_tokens is not None:
            rec.output_tokens = count_tokens("".join(self.texts))
            rec.token_source = TokenSource.TOKENIZER
        else:
            rec.output_tokens = len(rec.content_times_s)
            rec.token_source = TokenSource.CHUNKS


class StreamingClient:
    """Sends pre-built request bodies and records their timings as RequestRecords.

    ``count_tokens`` (a local tokenizer) is used only when the server sends no ``usage``; it needs the
    chunk texts, so with a tokenizer each content payload is parsed.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        headers: dict[str, str],
        count_tokens: Callable[[str], int] | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.session = session
        self.url = url
        self.headers = headers
        self.count_tokens = count_tokens
        self.clock = clock
        self.in_flight = 0

    async def send(self, body: bytes, start_s: float) -> RequestRecord:
        """Send one streaming request; ``start_s`` is when it was due (scheduled time in open loop)."""
        clock = self.clock
        rec = RequestRecord(start_s=start_s, sent_s=clock())
        self.in_flight += 1
        try:
            await self._stream(body, rec)
        except TimeoutError:
            rec.error, rec.error_message = "timeout", "request timed out"
        except aiohttp.ClientSSLError as exc:
            rec.error, rec.error_message = "tls", f"TLS failed: {exc}"
        except aiohttp.ClientConnectorError as exc:
            rec.error, rec.error_message = "connect", f"cannot connect: {exc.os_error or exc}"
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            rec.error, rec.error_message = "disconnected", f"server closed the stream: {exc}"
        except aiohttp.ClientError as exc:
            rec.error, rec.error_message = "client_error", f"{type(exc).__name__}: {exc}"
        except ValueError as exc:  # an event that looked like JSON but was not (tokenizer path)
            rec.error, rec.error_message = "malformed_sse", f"unreadable event: {exc}"
        finally:
            self.in_flight -= 1
            if not rec.end_s:
                rec.end_s = clock()
        return rec

    async def _stream(self, body: bytes, rec: RequestRecord) -> None:
        clock = self.clock
        async with self.session.post(self.url, data=body, headers=self.headers) as resp:
            rec.headers_s = clock()
            if resp.status != 200:
                raw = await resp.read()
                rec.end_s = clock()
                rec.error = f"http_{resp.status}"
                rec.error_message = f"HTTP {resp.status}: {error_message_of(raw)}"
                return
            ctype = resp.headers.get("Content-Type", "")
            if "text/event-stream" not in ctype:
                raw = await resp.read()
                rec.end_s = clock()
                rec.error = "not_streaming"
                rec.error_message = f"expected an SSE stream, got {ctype or 'no content type'}: {raw[:120]!r}"
                return
            parser = SseParser(rec, keep_texts=self.count_tokens is not None)
            feed = parser.feed
            async for data in resp.content.iter_any():
                if not feed(data, clock()):
                    return
            rec.end_s = clock()
        parser.finish(self.count_tokens)
