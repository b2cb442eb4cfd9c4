"""Requests of vLLM's OpenAI API, checked the way vLLM checks them, and its error shape.

Errors are ``{"error": {"message", "type", "param", "code"}}`` with the HTTP status as ``code`` and
vLLM's type names (``BadRequestError``, ``NotFoundError``, …). Sampling knobs that do not change the
simulator's filler text (temperature, top_p, seed, stop, penalties…) are accepted and ignored; knobs it
cannot honour (``n`` > 1, beam search, logprobs, echo, tools, non-text response formats) are refused
with 400 rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubellm.sim import tokenizer

ERROR_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    404: "NotFoundError",
    405: "MethodNotAllowed",
    413: "BadRequestError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}

COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # vLLM's CompletionRequest default (OpenAI's too)
_CHAT_ROLES = {"system", "user", "assistant", "tool", "developer"}
_NUMERIC_KNOBS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "length_penalty",
)


class ApiError(Exception):
    """An error the API answers with (never a 500 unless the simulator itself failed)."""

    def __init__(
        self, status: int, message: str, param: str | None = None, err_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.err_type = err_type or ERROR_TYPES.get(status, "BadRequestError")

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.param, self.err_type)


def error_body(
    status: int, message: str, param: str | None = None, err_type: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": err_type or ERROR_TYPES.get(status, "BadRequestError"),
            "param": param,
            "code": status,
        }
    }


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A checked request: what to generate and how to answer."""

    chat: bool
    model: str
    prompt_tokens: int
    token_ids: list[int] | None  # only when prefix caching needs them
    max_tokens: int
    stream: bool
    include_usage: bool
    continuous_usage: bool
    ignore_eos: bool
    max_tokens_given: bool


def parse_request(
    body: Any, *, chat: bool, served_model_name: str, max_model_len: int, want_token_ids: bool
) -> GenerationRequest:
    """Check a decoded JSON body; raise :class:`ApiError` with vLLM's status and wording."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        model = served_model_name
    elif not isinstance(model, str):
        raise ApiError(400, "'model' must be a string.", "model")
    elif model != served_model_name:
        raise ApiError(404, f"The model `{model}` does not exist.", "model", "NotFoundError")
    _refuse_unsupported(body)
    _check_knobs(body)
    text, ids = _chat_prompt(body) if chat else _completion_prompt(body)
    if ids is None and want_token_ids:
        ids = tokenizer.encode(text)
    prompt_tokens = len(ids) if ids is not None else tokenizer.count_tokens(text)
    field = "messages" if chat else "prompt"
    if prompt_tokens >= max_model_len:
        raise ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, your request has "
            f"{prompt_tokens} input tokens. Please reduce the length of the input {field}.",
            field,
        )
    max_tokens = _max_tokens(body, chat)
    max_tokens_given = max_tokens is not None or not chat  # completions default to exactly 16
    room = max_model_len - prompt_tokens
    if max_tokens is None:
        max_tokens = room if chat else min(COMPLETIONS_DEFAULT_MAX_TOKENS, room)
    elif max_tokens > room:
        raise ApiError(
            400,
            f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum context "
            f"length is {max_model_len} tokens and your request has {prompt_tokens} input tokens "
            f"({max_tokens} > {max_model_len} - {prompt_tokens}).",
            "max_tokens",
        )
    stream = _bool(body, "stream", False)
    options = body.get("stream_options")
    include_usage = continuous = False
    if options is not None:
        if not stream:
            raise ApiError(400, "Stream options can only be defined when `stream=True`.", "stream_options")
        if not isinstance(options, dict):
            raise ApiError(400, "'stream_options' must be an object.", "stream_options")
        include_usage = _bool(options, "include_usage", False, "stream_options.include_usage")
        continuous = _bool(options, "continuous_usage_stats", False, "stream_options.continuous_usage_stats")
    return GenerationRequest(
        chat=chat,
        model=model,
        prompt_tokens=prompt_tokens,
        token_ids=ids if want_token_ids else None,
        max_tokens=max_tokens,
        stream=stream,
        include_usage=include_usage,
        continuous_usage=continuous,
        ignore_eos=_bool(body, "ignore_eos", False),
        max_tokens_given=max_tokens_given,
    )


def _refuse_unsupported(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and (not _is_int(n) or n < 1):
        raise ApiError(400, "'n' must be a positive integer.", "n")
    if n is not None and n != 1:
        raise ApiError(400, "The simulator supports only n=1.", "n")
    best_of = body.get("best_of")
    if best_of is not None and best_of != 1:
        raise ApiError(400, "The simulator does not support best_of > 1.", "best_of")
    refused = {
        "use_beam_search": "beam search",
        "echo": "echo",
        "prompt_logprobs": "prompt logprobs",
        "top_logprobs": "logprobs",
        "tools": "tool calling",
        "functions": "function calling",
        "suffix": "suffix",
    }
    for key, what in refused.items():
        value = body.get(key)
        if value not in (None, False, [], 0, ""):
            raise ApiError(400, f"The simulator does not support {what} ('{key}').", key)
    logprobs = body.get("logprobs")
    if logprobs not in (None, False):
        raise ApiError(400, "The simulator does not support logprobs ('logprobs').", "logprobs")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", None)):
        raise ApiError(
            400, "The simulator supports only response_format {'type': 'text'}.", "response_format"
        )


def _check_knobs(body: dict[str, Any]) -> None:
    for key in _NUMERIC_KNOBS:
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ApiError(400, f"'{key}' must be a number.", key)
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and temperature < 0:
        raise ApiError(400, f"temperature must be non-negative, got {temperature}.", "temperature")
    top_p = body.get("top_p")
    if isinstance(top_p, int | float) and not 0 < top_p <= 1:
        raise ApiError(400, f"top_p must be in (0, 1], got {top_p}.", "top_p")
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise ApiError(400, "'seed' must be an integer.", "seed")
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise ApiError(400, "'stop' must be a string or a list of strings.", "stop")


def _completion_prompt(body: dict[str, Any]) -> tuple[str, list[int] | None]:
    prompt = body.get("prompt")
    if prompt is None:
        raise ApiError(400, "'prompt' is required.", "prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]  # a batch of one
    if isinstance(prompt, str):
        if not prompt:
            raise ApiError(400, "The prompt cannot be empty.", "prompt")
        return prompt, None
    if isinstance(prompt, list) and prompt and all(_is_int(t) and t >= 0 for t in prompt):
        return "", [int(t) for t in prompt]
    if isinstance(prompt, list) and len(prompt) > 1 and all(isinstance(p, str | list) for p in prompt):
        raise ApiError(400, "The simulator accepts one prompt per request.", "prompt")
    raise ApiError(400, "'prompt' must be a non-empty string or a list of token ids.", "prompt")


def _chat_prompt(body: dict[str, Any]) -> tuple[str, list[int] | None]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list.", "messages")
    pairs: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ApiError(400, f"messages[{i}] must be an object.", "messages")
        role = message.get("role")
        if role not in _CHAT_ROLES:
            raise ApiError(
                400, f"messages[{i}].role must be one of {', '.join(sorted(_CHAT_ROLES))}.", "messages"
            )
        pairs.append((str(role), _content_text(message.get("content"), i, role == "assistant")))
    return tokenizer.render_chat(pairs), None


def _content_text(content: Any, index: int, may_be_empty: bool) -> str:
    if content is None and may_be_empty:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(
                    400,
                    f"messages[{index}]: content part of type {kind!r} is not supported (text only).",
                    "messages",
                )
            parts.append(part["text"])
        return "\n".join(parts)
    raise ApiError(400, f"messages[{index}].content must be a string or a list of text parts.", "messages")


def _max_tokens(body: dict[str, Any], chat: bool) -> int | None:
    keys = ("max_completion_tokens", "max_tokens") if chat else ("max_tokens",)
    for key in keys:
        value = body.get(key)
        if value is None:
            continue
        if not _is_int(value):
            raise ApiError(400, f"'{key}' must be an integer.", key)
        if value < 1:
            raise ApiError(400, f"max_tokens must be at least 1, got {value}.", key)
        return int(value)
    return None


def _bool(body: dict[str, Any], key: str, default: bool, param: str | None = None) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"'{param or key}' must be a boolean.", param or key)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
