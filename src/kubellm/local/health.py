"""Waiting for local servers to answer: health-gated start with progress and a clear error on failure."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

from kubellm.errors import KubellmError
from kubellm.local.processes import Child, describe_exit


class StartError(KubellmError):
    """A local process did not come up (it exited, or did not answer in time)."""


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """``GET url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_healthy(
    child: Child,
    url: str,
    timeout_s: float,
    on_wait: Callable[[float], None] | None = None,
    interval_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll ``url`` until it answers 2xx; return the seconds it took.

    Raises StartError with the tail of the child's log when the child exits first or ``timeout_s``
    passes. ``on_wait`` gets the seconds waited so far after each failed poll (for progress output).
    """
    start = clock()
    while True:
        if http_ok(url):
            return clock() - start
        status = child.exited()
        if status is not None:
            raise StartError(
                f"{child.spec.name} {describe_exit(status)} before it answered {url}\n"
                f"--- last lines of {child.log_path} ---\n{child.log_tail()}",
                f"read {child.log_path}; fix the cause and run `kubellm up` again",
            )
        waited = clock() - start
        if waited > timeout_s:
            raise StartError(
                f"{child.spec.name} did not answer {url} within {timeout_s:.0f} s\n"
                f"--- last lines of {child.log_path} ---\n{child.log_tail()}",
                f"read {child.log_path}; large models need longer: pass --timeout {int(timeout_s * 2)}",
            )
        if on_wait is not None:
            on_wait(waited)
        sleep(interval_s)
