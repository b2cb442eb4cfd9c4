"""Running `kubellm up` as a real process in tests: start it, read its JSON events, check its children."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubellm.local.commands import kubellm_command
from kubellm.local.ports import free_port

READY_TIMEOUT_S = 60.0


@dataclass
class UpProcess:
    """A running `kubellm up --json` and what it announced."""

    popen: subprocess.Popen[str]
    info: dict[str, Any]
    stderr_path: Path
    lines: queue.Queue[str]

    @property
    def child_pids(self) -> list[int]:
        return list(self.info["pids"].values())

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def next_event(self, timeout_s: float) -> dict[str, Any]:
        return dict(json.loads(self.lines.get(timeout=timeout_s)))

    def stop(self, signum: int = signal.SIGINT, timeout_s: float = 30.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signum)
        return self.popen.wait(timeout=timeout_s)


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def start_up(args: list[str], tmp_path: Path, timeout_s: float = READY_TIMEOUT_S) -> UpProcess:
    """Start `kubellm up --json ARGS` and return once it printed its ready line (fail with its stderr if not)."""
    stderr_path = tmp_path / "up.stderr"
    argv = [*kubellm_command(), "up", *args, "--json", "--run-dir", str(tmp_path / "run")]
    if "--port" not in args:
        argv += ["--port", str(free_port())]
    with stderr_path.open("w") as stderr:
        popen = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, "NO_COLOR": "1"}
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(popen.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            event = json.loads(lines.get(timeout=0.2))
        except queue.Empty:
            if popen.poll() is not None:
                break
            continue
        if event.get("event") == "ready":
            return UpProcess(popen, event, stderr_path, lines)
    popen.kill()
    popen.wait()
    pytest.fail(f"`kubellm up` was not ready within {timeout_s:.0f} s:\n{stderr_path.read_text()}")


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def all_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    """The pids still alive after ``timeout_s`` (empty when every one is gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [pid for pid in pids if process_alive(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)
