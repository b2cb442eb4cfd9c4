"""Children of `kubellm up`: logged to files, stopped with their whole process group, never orphaned."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kubellm.local.processes import ProcessSpec, Supervisor, describe_exit


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def wait_for_file(path: Path, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_child_output_goes_to_its_log_file(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    child = supervisor.start(ProcessSpec("echo", [sys.executable, "-c", "print('hello from the child')"]))
    child.popen.wait(timeout=10)
    assert "hello from the child" in (tmp_path / "echo.log").read_text()
    assert child.log_tail() == "hello from the child"


def test_each_child_leads_its_own_process_group(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    child = supervisor.start(ProcessSpec("sleeper", ["sleep", "30"]))
    try:
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    finally:
        supervisor.stop_all(grace_s=2)


def test_stop_all_also_stops_grandchildren(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = f"sleep 30 & echo $! > {pid_file}; wait"
    supervisor = Supervisor(tmp_path)
    child = supervisor.start(ProcessSpec("shell", ["bash", "-c", script]))
    grandchild = int(wait_for_file(pid_file))
    supervisor.stop_all(grace_s=2)
    assert child.exited() is not None
    assert wait_gone(grandchild)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = f"import signal, time, pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); pathlib.Path({str(ready)!r}).write_text('1'); time.sleep(60)"
    supervisor = Supervisor(tmp_path)
    child = supervisor.start(ProcessSpec("stubborn", [sys.executable, "-c", code]))
    wait_for_file(ready)
    began = time.monotonic()
    supervisor.stop_all(grace_s=0.5)
    assert child.exited() == -9
    assert time.monotonic() - began < 5


def test_children_die_when_their_parent_is_killed_without_cleanup(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent_code = textwrap.dedent(
        f"""
        import pathlib, time
        from kubellm.local.processes import ProcessSpec, Supervisor
        child = Supervisor(pathlib.Path({str(tmp_path)!r})).start(ProcessSpec("sleeper", ["sleep", "30"]))
        pathlib.Path({str(pid_file)!r}).write_text(str(child.pid))
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    child_pid = int(wait_for_file(pid_file, timeout_s=20))
    parent.kill()
    parent.wait(timeout=5)
    assert wait_gone(child_pid)


@pytest.mark.parametrize(("status", "text"), [(3, "exited with status 3"), (-9, "was killed by SIGKILL")])
def test_exit_statuses_read_as_words(status: int, text: str) -> None:
    assert describe_exit(status) == text


def test_children_named_first_are_stopped_before_the_others(tmp_path: Path) -> None:
    order = tmp_path / "order"
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        f"    open({str(order)!r}, 'a').write(sys.argv[1] + '\\n'); time.sleep(0.3); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        f"open({str(order)!r} + '.' + sys.argv[1], 'w').write('up')\n"
        "time.sleep(60)\n"
    )
    supervisor = Supervisor(tmp_path)
    for name in ("engine-0", "gateway", "engine-1"):
        supervisor.start(ProcessSpec(name, [sys.executable, "-c", code, name]))
    for name in ("engine-0", "gateway", "engine-1"):
        wait_for_file(Path(f"{order}.{name}"))
    supervisor.stop_all(grace_s=5, first=("gateway",))
    assert order.read_text().splitlines()[0] == "gateway"
    assert sorted(order.read_text().splitlines()[1:]) == ["engine-0", "engine-1"]
