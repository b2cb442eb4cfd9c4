"""JSON logs: one object per line for events, and one audit line per request.

Audit lines carry the time, request id, key id, model, pool, backend, status, tokens and latency.
Prompt text appears only when the config says ``log_prompts: true``. Lines are buffered and written
in batches so that logging does not cost the request path a system call each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from typing import Any, TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", …extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send the gateway's logs as JSON lines to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("kubellm.gateway")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


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
