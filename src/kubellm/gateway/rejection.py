"""A request the gateway turns away, and its OpenAI-shaped error body."""

from __future__ import annotations

import json

from kubellm.errors import KubellmError

SERVER_NAME = "kubellm"  # the Server header of every answer (never the Python or aiohttp version)
JSON_HEADERS = {"Content-Type": "application/json", "Server": SERVER_NAME}

# OpenAI error types by HTTP status (https://platform.openai.com/docs/guides/error-codes)
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
    499: "client_closed_request",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "server_error",
}


class Rejection(KubellmError):
    """The gateway answers ``status`` with an OpenAI error; ``reason`` labels the rejection metric."""

    def __init__(
        self,
        status: int,
        message: str,
        reason: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code or reason
        self.param = param
        self.retry_after_s = retry_after_s

    def body(self) -> bytes:
        """The JSON error body clients (the openai SDK among them) understand."""
        return error_body(self.status, self.message, self.code, self.param)

    def headers(self) -> dict[str, str]:
        """Content type, plus Retry-After (whole seconds, at least 1) when the client should retry."""
        headers = dict(JSON_HEADERS)
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, int(self.retry_after_s + 0.999)))
        return headers


def error_body(status: int, message: str, code: str | None, param: str | None = None) -> bytes:
    """``{"error": {"message", "type", "param", "code"}}`` as bytes."""
    error = {"message": message, "type": _TYPES.get(status, "server_error"), "param": param, "code": code}
    return json.dumps({"error": error}).encode()


def sse_error_event(message: str, code: str) -> bytes:
    """An SSE event carrying an OpenAI error, followed by ``[DONE]``: how a broken stream ends."""
    error = {"message": message, "type": "server_error", "param": None, "code": code}
    return b"data: " + json.dumps({"error": error}).encode() + b"\n\ndata: [DONE]\n\n"
