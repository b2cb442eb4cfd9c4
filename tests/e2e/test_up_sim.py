"""`kubellm up` end to end on the simulator: replicas behind the gateway, queried with the openai SDK."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.support import UpProcess, all_gone, process_alive, start_up
from kubellm.local.commands import kubellm_command

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    """The quickstart (two simulator replicas behind the gateway), shared by the read-only tests here."""
    up = start_up(["--engine", "sim"], tmp_path_factory.mktemp("sim"))
    yield up
    up.stop()


def openai_client(up: UpProcess) -> object:
    from openai import OpenAI

    return OpenAI(
        base_url=up.info["endpoint"], api_key=up.info["api_key"] or "unused", max_retries=0, timeout=30
    )


def test_up_says_which_engine_runs_and_why(sim_stack: UpProcess) -> None:
    assert sim_stack.info["engine"] == "sim"
    assert sim_stack.info["reason"] == "the simulator was asked for (--engine sim)"
    assert len(sim_stack.info["replicas"]) == 2  # the quickstart's min_replicas


def test_chat_completion_through_the_gateway_with_the_openai_sdk(sim_stack: UpProcess) -> None:
    client = openai_client(sim_stack)
    reply = client.chat.completions.create(  # type: ignore[attr-defined]
        model=sim_stack.info["served_name"], messages=[{"role": "user", "content": "Say hello"}], max_tokens=8
    )
    assert reply.choices[0].message.content
    assert reply.usage.completion_tokens == 8


def test_streaming_through_the_gateway_delivers_content_chunks(sim_stack: UpProcess) -> None:
    client = openai_client(sim_stack)
    stream = client.chat.completions.create(  # type: ignore[attr-defined]
        model=sim_stack.info["served_name"],
        messages=[{"role": "user", "content": "Count"}],
        max_tokens=6,
        stream=True,
    )
    pieces = [
        chunk.choices[0].delta.content for chunk in stream if chunk.choices and chunk.choices[0].delta.content
    ]
    assert len(pieces) >= 2


def test_gateway_lists_the_served_model(sim_stack: UpProcess) -> None:
    client = openai_client(sim_stack)
    assert sim_stack.info["served_name"] in [m.id for m in client.models.list()]  # type: ignore[attr-defined]


def test_each_process_logs_to_its_own_file_in_the_run_directory(sim_stack: UpProcess) -> None:
    run_dir = Path(sim_stack.info["run_dir"])
    for name in ("engine-0", "engine-1", "gateway"):
        assert (run_dir / f"{name}.log").is_file()
        assert (run_dir / f"{name}.cmd").read_text().strip()
    assert json.loads((run_dir / "run.json").read_text())["pids"] == sim_stack.info["pids"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_stops_every_child_and_leaves_no_orphans(
    signum: int, tmp_path: Path, up_processes: list[UpProcess]
) -> None:
    up = start_up(["--engine", "sim", "--replicas", "1"], tmp_path)
    up_processes.append(up)
    children = up.child_pids
    assert children and all(process_alive(pid) for pid in children)
    assert up.stop(signum) == 0
    assert all_gone(children) == []
    assert "stopped" in up.stderr()


def test_a_crashed_engine_stops_the_whole_stack_with_its_log(
    tmp_path: Path, up_processes: list[UpProcess]
) -> None:
    up = start_up(["--engine", "sim", "--replicas", "1"], tmp_path)
    up_processes.append(up)
    os.killpg(up.info["pids"]["engine-0"], signal.SIGKILL)
    assert up.popen.wait(timeout=30) == 1
    assert "engine-0 was killed by SIGKILL" in up.stderr()
    assert all_gone(up.child_pids) == []


def test_busy_port_is_a_clear_error_naming_a_free_port(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        done = subprocess.run(
            [*kubellm_command(), "up", "--port", str(port), "--run-dir", str(tmp_path / "run")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port " in done.stderr.split("—", 1)[1]
    assert not (tmp_path / "run").exists()  # nothing was started


def test_up_bench_sweeps_reports_the_knee_and_renders_manifests(
    tmp_path: Path, up_processes: list[UpProcess]
) -> None:
    up = start_up(
        ["--engine", "sim", "--replicas", "1", "--bench", "--exit-after-bench", "--bench-level-s", "0.3"],
        tmp_path,
    )
    up_processes.append(up)
    event = up.next_event(timeout_s=120)
    assert event["event"] == "bench"
    results = json.loads(Path(event["results"]).read_text())
    assert [p["concurrency"] for p in results["points"]][:3] == [1, 2, 4]
    assert event["knee"] is not None and event["knee_note"].startswith(("knee at", "no knee"))
    manifests = Path(event["manifests"])
    assert manifests.parent == Path(up.info["run_dir"])
    assert any(manifests.glob("deployment-*.yaml"))
    assert up.popen.wait(timeout=30) == 0
    assert all_gone(up.child_pids) == []


def test_a_spec_asking_for_api_keys_gets_a_gateway_that_checks_them(
    tmp_path: Path, up_processes: list[UpProcess]
) -> None:
    from openai import AuthenticationError, OpenAI

    spec = tmp_path / "keys.yaml"
    spec.write_text(
        "apiVersion: kubellm.dev/v1alpha1\nkind: LLMService\nmetadata: {name: keyed}\n"
        "model: {source: hf://Qwen/Qwen3-0.6B, served_name: q}\nscaling: {min_replicas: 1}\n"
        "security: {api_key_secret: llm-keys}\n"
    )
    up = start_up([str(spec), "--engine", "sim"], tmp_path)
    up_processes.append(up)
    key = up.info["api_key"]
    assert key and key.startswith("sk-local-")
    endpoint = up.info["endpoint"]
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=endpoint, api_key="sk-wrong", max_retries=0).models.list()
    assert [m.id for m in OpenAI(base_url=endpoint, api_key=key, max_retries=0).models.list()] == ["q"]


def test_the_printed_openai_snippet_runs_against_the_stack(sim_stack: UpProcess) -> None:
    import sys

    from kubellm.local.hints import openai_snippet

    code = openai_snippet(
        sim_stack.info["endpoint"], sim_stack.info["served_name"], sim_stack.info["api_key"]
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_printed_curl_line_runs_against_the_stack(sim_stack: UpProcess) -> None:
    from kubellm.local.hints import curl_line

    line = curl_line(sim_stack.info["endpoint"], sim_stack.info["served_name"], sim_stack.info["api_key"])
    done = subprocess.run(
        ["bash", "-c", line + " -s"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["choices"][0]["message"]["content"]
