"""Reading OpenAI request bodies and engine answers: model, prompt size, caps, usage.

Pure functions over bytes and dicts. Prompt tokens are estimated at about four characters a token
(the charge is corrected later by the engine's ``usage``); any JSON a client may send is handled
without crashing — a body the gateway cannot use is a 400, never a 500.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kubellm.gateway.rejection import Rejection

CHARS_PER_TOKEN = 4
DEFAULT_COMPLETION_ESTIMATE = 256
_USAGE = re.compile(rb'"usage"\s{0,16}:\s{0,16}\{')  # bounded: a match is at most 41 bytes
_PROMPT_TOKENS = re.compile(rb'"prompt_tokens"\s*:\s*(\d{1,12})\b')
_COMPLETION_TOKENS = re.compile(rb'"completion_tokens"\s*:\s*(\d{1,12})\b')


@dataclass(slots=True)
class ParsedRequest:
    """What the gateway needs from one request body."""

    body: dict[str, Any]
    model: str
    stream: bool
    prompt_chars: int
    max_tokens: int | None
    prefix: str
    user: str | None

    @property
    def prompt_tokens(self) -> int:
        """Estimated prompt tokens."""
        return (self.prompt_chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN

    @property
    def estimated_tokens(self) -> int:
        """Prompt plus completion tokens charged at admission."""
        return self.prompt_tokens + (
            self.max_tokens if self.max_tokens is not None else DEFAULT_COMPLETION_ESTIMATE
        )


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or the 'text' parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _prompt_text(path: str, body: dict[str, Any]) -> str:
    if path.endswith("/chat/completions"):
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise Rejection(400, "'messages' must be a list of messages", "bad_request", param="messages")
        return "\n".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
    field = "input" if path.endswith("/embeddings") else "prompt"
    value = body.get(field)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(v for v in value if isinstance(v, str))
    return ""


def parse_request(path: str, raw: bytes) -> ParsedRequest:
    """Parse and check a request body for ``path``; 400 (OpenAI-shaped) when it is unusable."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise Rejection(400, "request body is not valid JSON", "bad_request") from None
    if not isinstance(body, dict):
        raise Rejection(400, "request body must be a JSON object", "bad_request")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Rejection(400, "'model' is required and must be a string", "bad_request", param="model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Rejection(400, "'stream' must be true or false", "bad_request", param="stream")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0
    ):
        raise Rejection(400, "'max_tokens' must be a non-negative integer", "bad_request", param="max_tokens")
    text = _prompt_text(path, body)
    user = body.get("user")
    return ParsedRequest(
        body=body,
        model=model,
        stream=stream,
        prompt_chars=len(text),
        max_tokens=max_tokens,
        prefix=text,
        user=user if isinstance(user, str) else None,
    )


def cap_max_tokens(request: ParsedRequest, cap: int | None) -> bool:
    """Lower ``max_tokens`` to ``cap`` (setting it when absent); True when the body changed."""
    if cap is None or (request.max_tokens is not None and request.max_tokens <= cap):
        return False
    key = (
        "max_completion_tokens"
        if "max_completion_tokens" in request.body and "max_tokens" not in request.body
        else "max_tokens"
    )
    request.body[key] = cap
    request.max_tokens = cap
    return True


def usage_of(tail: bytes) -> tuple[int, int] | None:
    """(prompt_tokens, completion_tokens) of the last ``usage`` object in a response or stream tail."""
    last = None
    for last in _USAGE.finditer(tail):  # noqa: B007 - only the last one counts
        pass
    if last is None:
        return None
    return _counts(tail, last.end())


def _counts(data: bytes, start: int) -> tuple[int, int] | None:
    window = data[start : start + 512]
    prompt = _PROMPT_TOKENS.search(window)
    if prompt is None:
        return None
    completion = _COMPLETION_TOKENS.search(window)
    return int(prompt.group(1)), int(completion.group(1)) if completion else 0


_USAGE_WINDOW = 512  # bytes after '"usage": {' in which the token counts must appear


class UsageScanner:
    """``usage_of`` over a body that arrives in pieces, without keeping the body.

    Each piece is searched together with the last bytes of the one before it, so a ``usage`` object
    cut anywhere by the network is still found; the result is the same as ``usage_of(whole_body)``.
    """

    __slots__ = ("_carry", "_found")

    def __init__(self) -> None:
        self._carry = b""
        self._found: tuple[int, int] | None = None

    @staticmethod
    def of(body: bytes) -> tuple[int, int] | None:
        """The usage of a whole body."""
        return usage_of(body)

    def feed(self, piece: bytes) -> None:
        """Scan the next piece of the body."""
        window = self._carry + piece
        last = None
        for last in _USAGE.finditer(window):  # noqa: B007 - only the last one counts
            pass
        keep = _USAGE_WINDOW + 64
        if last is not None and len(window) - last.end() >= _USAGE_WINDOW:
            self._found = _counts(window, last.end())
        # a match whose counts may not have arrived yet stays inside the carried tail and is found again
        self._carry = window[-keep:] if len(window) > keep else window

    @property
    def usage(self) -> tuple[int, int] | None:
        """(prompt_tokens, completion_tokens) of the last ``usage`` object seen so far."""
        last = None
        for last in _USAGE.finditer(self._carry):  # noqa: B007 - only the last one counts
            pass
        return self._found if last is None else _counts(self._carry, last.end())
