"""JSON logs: one object per line for every event (the framework's included), and one audit line per request.

Nothing secret reaches a log line: Authorization values and bearer tokens are redacted wherever they
appear, and exception messages — which may quote the raw request, key and prompt included, as the
HTTP parser's errors do — are left out (only the exception type and where it was raised are kept)
unless ``log_prompts`` is set. Audit lines carry the time, request id, key id, model, pool, backend,
status, tokens and latency; prompt text appears only with ``log_prompts: true``. Audit lines are
buffered and written in batches so that logging does not cost the request path a system call each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import threading
import time
import traceback
from types import TracebackType
from typing import Any, TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|\\[tnr]|%20)+[^\s\"',;}\]]+")
_AUTHORIZATION = re.compile(
    r"(?i)\b(authorization|x-api-key|api[-_]key)([\"']?\s*[:=]\s*[\"']?)[^\r\n\"',}]*"
)
_QUERY_KEY = re.compile(r"(?i)([?&](?:key|api_key|token)=)[^&\s\"']+")


def scrub(text: str) -> str:
    """``text`` with bearer tokens, Authorization values and key query parameters redacted."""
    text = _AUTHORIZATION.sub(r"\1\2[redacted]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    return _QUERY_KEY.sub(r"\1[redacted]", text)


def exception_summary(
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
    *,
    with_message: bool,
) -> str:
    """An exception as its type and the frames it came through; its message only when allowed (scrubbed)."""
    name = exc_type.__name__ if exc_type is not None else "Exception"
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    head = f"{name}: {scrub(str(exc))}" if with_message and exc is not None else name
    return f"Traceback (most recent call last):\n{frames}{head}" if frames else head


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", …extra}`` on one line, scrubbed of secrets."""

    def __init__(self, *, log_prompts: bool = False) -> None:
        super().__init__()
        self.log_prompts = log_prompts

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = exception_summary(*record.exc_info, with_message=self.log_prompts)
        return json.dumps(entry, default=lambda v: scrub(str(v)))


def configure_logging(level: str, stream: TextIO | None = None, *, log_prompts: bool = False) -> None:
    """Send every log line of the process — the gateway's, aiohttp's, asyncio's, warnings and uncaught
    exceptions — as scrubbed JSON lines to ``stream`` (stderr by default)."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(log_prompts=log_prompts))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    gateway = logging.getLogger("kubellm.gateway")
    gateway.handlers.clear()
    gateway.setLevel(level.upper())
    gateway.propagate = True
    logging.captureWarnings(True)
    crash = logging.getLogger("kubellm.gateway.crash")

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        crash.critical("uncaught exception", exc_info=(exc_type, exc, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            crash.critical("uncaught exception in a thread", exc_info=args.exc_value)

    def unraisable_hook(args: Any) -> None:
        crash.error(
            "exception ignored",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
            extra={"where": type(args.object).__name__},
        )

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
    sys.unraisablehook = unraisable_hook


def loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's errors as log lines; running out of file descriptors says what to do."""
    exc = context.get("exception")
    logger = logging.getLogger("kubellm.gateway")
    if isinstance(exc, OSError) and exc.errno in (24, 23):  # EMFILE, ENFILE
        logger.error(
            "out of file descriptors: %s — raise the open-file limit (ulimit -n, or the container's "
            "nofile limit) or lower listen.max_connections",
            exc.strerror,
        )
        return
    exc_info = (type(exc), exc, exc.__traceback__) if isinstance(exc, BaseException) else None
    logger.error("event loop error: %s", context.get("message", "unknown"), exc_info=exc_info)


class AuditLog:
    """Buffered audit lines, flushed every ``flush_s`` seconds or every ``max_lines`` lines."""

    def __init__(self, stream: TextIO | None = None, flush_s: float = 0.5, max_lines: int = 512) -> None:
        self._stream = stream or sys.stderr
        self._flush_s = flush_s
        self._max_lines = max_lines
        self._lines: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def write(self, record: dict[str, Any]) -> None:
        """Queue one audit record."""
        self._lines.append(json.dumps(record, separators=(",", ":")))
        if len(self._lines) >= self._max_lines:
            self.flush()

    def flush(self) -> None:
        """Write the queued lines now."""
        if self._lines:
            lines, self._lines = self._lines, []
            with contextlib.suppress(OSError, ValueError):
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()

    def start(self) -> None:
        """Flush periodically from the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            self.flush()

    async def stop(self) -> None:
        """Stop the flusher and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
