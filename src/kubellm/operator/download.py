"""Where the weights download stands, from the prefetch container's log (pure).

The prefetch script prints ``kubellm-progress bytes=<done> total=<all>`` every few seconds while it
downloads and once when it is done; the last such line is the progress. Older scripts print only
``downloading <file>`` / ``verified <file>`` lines: then the progress is counted in files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PROGRESS = re.compile(r"kubellm-progress bytes=(\d+) total=(\d+)")
_DOWNLOADING = re.compile(r"^downloading (\S+)", re.M)
_VERIFIED = re.compile(r"^verified (\S+)", re.M)
_DONE = re.compile(r"files verified in |already verified in ")


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """Bytes (or files) done and to do; ``done`` once the verified marker is written."""

    bytes: int = 0
    total_bytes: int = 0
    files_verified: int = 0
    files_started: int = 0
    done: bool = False

    @property
    def percent(self) -> float | None:
        if self.done:
            return 100.0
        if self.total_bytes > 0:
            return round(min(100.0, 100.0 * self.bytes / self.total_bytes), 1)
        return None

    def line(self) -> str:
        """'12.3 GiB of 16.1 GiB (76.4 %)', or a count of files when sizes are unknown."""
        if self.total_bytes > 0:
            return f"{_gib(self.bytes)} of {_gib(self.total_bytes)} downloaded ({self.percent:.1f} %)"
        if self.files_started:
            return f"{self.files_verified} file(s) verified, {self.files_started} started"
        return "download not started yet"


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f} GiB"


def parse_progress(log: str) -> DownloadProgress:
    """The progress the log shows (the latest progress line wins)."""
    matches = _PROGRESS.findall(log)
    done = bool(_DONE.search(log))
    done_bytes, total = (int(matches[-1][0]), int(matches[-1][1])) if matches else (0, 0)
    if done and total:
        done_bytes = total
    return DownloadProgress(
        bytes=done_bytes,
        total_bytes=total,
        files_verified=len(set(_VERIFIED.findall(log))),
        files_started=len(set(_DOWNLOADING.findall(log))),
        done=done,
    )
