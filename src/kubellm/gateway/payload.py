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
    max_tokens: (
        int | None
    )  # the completion limit the engine applies (vLLM: max_completion_tokens or max_tokens)
    prefix: str
    user: str | None
    prompt_token_ids: int = 0  # prompt tokens sent as token ids (counted exactly)

    @property
    def prompt_tokens(self) -> int:
        """Estimated prompt tokens: text at about four characters a token, plus token ids as they are."""
        return (self.prompt_chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + self.prompt_token_ids

    @property
    def completion_estimate(self) -> int:
        """Completion tokens charged at admission: the limit, or a default when there is none."""
        return self.max_tokens if self.max_tokens else DEFAULT_COMPLETION_ESTIMATE

    @property
    def estimated_tokens(self) -> int:
        """Prompt plus completion tokens charged at admission."""
        return self.prompt_tokens + self.completion_estimate


@dataclass(slots=True)
class _Prompt:
    texts: list[str]
    token_ids: int = 0
    first_ids: list[int] | None = None

    def add(self, value: Any) -> None:
        """A prompt value: a string, a list of token ids, or a list of either."""
        if isinstance(value, str):
            self.texts.append(value)
        elif isinstance(value, list):
            if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                self.token_ids += len(value)
                if self.first_ids is None:
                    self.first_ids = value[:64]
            else:
                for item in value:
                    if isinstance(item, (str, list)):
                        self._add_one(item)

    def _add_one(self, item: str | list[Any]) -> None:
        if isinstance(item, str):
            self.texts.append(item)
        else:
            ids = [v for v in item if isinstance(v, int) and not isinstance(v, bool)]
            self.token_ids += len(ids)
            if self.first_ids is None and ids:
                self.first_ids = ids[:64]


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or the 'text' parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _prompt_of(path: str, body: dict[str, Any]) -> _Prompt:
    if path.endswith("/chat/completions"):
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise Rejection(400, "'messages' must be a list of messages", "bad_request", param="messages")
        return _Prompt(["\n".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))])
    prompt = _Prompt([])
    prompt.add(body.get("input" if path.endswith("/embeddings") else "prompt"))
    return prompt


def _token_limit(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise Rejection(400, f"'{field}' must be a non-negative integer", "bad_request", param=field)
    return value


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
    max_tokens = _token_limit(body, "max_tokens")
    max_completion_tokens = _token_limit(body, "max_completion_tokens")
    prompt = _prompt_of(path, body)
    text = "\n".join(prompt.texts)
    prefix = text if prompt.first_ids is None or text else ",".join(map(str, prompt.first_ids))
    user = body.get("user")
    return ParsedRequest(
        body=body,
        model=model,
        stream=stream,
        prompt_chars=len(text),
        max_tokens=max_completion_tokens or max_tokens,  # vLLM: max_completion_tokens wins unless 0/unset
        prefix=prefix,
        user=user if isinstance(user, str) else None,
        prompt_token_ids=prompt.token_ids,
    )


def cap_max_tokens(request: ParsedRequest, cap: int | None) -> bool:
    """Bind every completion limit the engine may read to ``cap``; True when the body changed.

    Both ``max_tokens`` and ``max_completion_tokens`` are lowered when above the cap (vLLM reads the
    latter first, so capping only one could be bypassed); when neither sets a limit, ``max_tokens``
    is set to the cap.
    """
    if cap is None:
        return False
    body = request.body
    changed = False
    for field in ("max_tokens", "max_completion_tokens"):
        value = body.get(field)
        if isinstance(value, int) and value > cap:
            body[field] = cap
            changed = True
    if not body.get("max_completion_tokens") and body.get("max_tokens") is None:
        body["max_tokens"] = cap  # no limit at all (0 means unset for max_completion_tokens)
        changed = True
    request.max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    return changed


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
