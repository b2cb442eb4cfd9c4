"""Child processes of `kubellm up`: started in their own process groups, logged to files, stopped as one.

Each child leads its own session, so a Ctrl-C in the terminal reaches only `kubellm up`, which then
stops the children in order (the gateway first, so it drains, then the engines): SIGTERM to each
process group, a grace period, then SIGKILL for whatever is left. On Linux each child also gets SIGTERM if `kubellm up`
itself dies without cleaning up (prctl PR_SET_PDEATHSIG), so no engine is ever orphaned.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessSpec:
    """One process to start: a name for logs and messages, its command line and extra environment."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Child:
    """A started process and where its output goes."""

    spec: ProcessSpec
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        """The exit status, or None while it runs."""
        return self.popen.poll()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the child's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when its parent dies (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


class Supervisor:
    """Starts children and stops them all, in reverse order of start."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    def start(self, spec: ProcessSpec) -> Child:
        """Start ``spec`` in a new session with stdout and stderr going to ``<log_dir>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        log: IO[bytes] = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **spec.env},
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        finally:
            log.close()
        child = Child(spec=spec, popen=popen, log_path=log_path)
        self.children.append(child)
        return child

    def first_exited(self) -> Child | None:
        """A child that has exited, if any."""
        for child in self.children:
            if child.exited() is not None:
                return child
        return None

    def stop(self, names: Collection[str] | None = None, grace_s: float = 10.0) -> None:
        """SIGTERM the process groups of the named children (all when None) at once, SIGKILL after ``grace_s``."""
        group = [c for c in reversed(self.children) if names is None or c.spec.name in names]
        for child in group:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in group:
            remaining = max(0.0, deadline - time.monotonic())
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(timeout=remaining)
        for child in group:
            # Kill the group even when the leader is gone: a grandchild may still hold it.
            _signal_group(child, signal.SIGKILL)
            if child.exited() is None:
                # An unkillable child (uninterruptible I/O) is reaped by the kernel when that ends.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.popen.wait(timeout=5.0)

    def stop_all(self, grace_s: float = 10.0, first: Collection[str] = ()) -> None:
        """Stop the children named in ``first`` (each group at once), then every other one."""
        if first:
            self.stop(first, grace_s)
        self.stop(None, grace_s)

    def pids(self) -> dict[str, int]:
        return {child.spec.name: child.pid for child in self.children}


def _signal_group(child: Child, signum: int) -> None:
    # The child leads its own session, so its process group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def describe_exit(status: int) -> str:
    """'exited with status 3' or 'was killed by SIGKILL'."""
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def command_line(argv: Sequence[str]) -> str:
    """A shell-quoted command line, for logs and messages."""
    import shlex

    return shlex.join(argv)
