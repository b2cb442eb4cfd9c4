"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from e2e.support import UpProcess, process_alive


@pytest.fixture
def up_processes() -> Iterator[list[UpProcess]]:
    """Every `kubellm up` a test starts is stopped (and its children checked) at teardown."""
    started: list[UpProcess] = []
    yield started
    for up in started:
        if up.popen.poll() is None:
            up.popen.kill()
            up.popen.wait()
        for pid in up.child_pids:
            if process_alive(pid):
                os.killpg(pid, signal.SIGKILL)
