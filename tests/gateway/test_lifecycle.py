"""The gateway as a process: SIGTERM drains in-flight requests; the CLI's quick start and config checks."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from typer.testing import CliRunner

from gateway.conftest import Stack
from gateway.fake_engine import static_pool
from kubellm.cli.app import app

KUBELLM = [str(Path(sys.executable).parent / "kubellm")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        try:
            with urllib.request.urlopen(base + "/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise AssertionError("gateway did not become ready")


def chat(base: str) -> int:
    body = json.dumps(
        {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    ).encode()
    request = urllib.request.Request(
        base + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=15) as resp:
        return resp.status


def test_sigterm_drains_in_flight_requests(stack: Stack, tmp_path: Path) -> None:
    engine = stack.engine(delay_s=1.0)
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "GatewayConfig",
                "listen": {"port": port},
                "pools": [static_pool("tiny", [engine.url])],
                "drain_timeout_s": 10,
            }
        )
    )
    proc = subprocess.Popen(
        [*KUBELLM, "gateway", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(chat, base) for _ in range(6)]
            deadline = time.monotonic() + 5
            while engine.in_flight < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert engine.in_flight == 6
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            try:
                refused = chat(base) != 200
            except (urllib.error.URLError, ConnectionError):
                refused = True
            assert refused  # no new work once draining
            assert [f.result() for f in futures] == [200] * 6
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert engine.completed == 6
    logs = proc.stderr.read().decode() if proc.stderr else ""
    assert '"message": "draining"' in logs and '"cut_off": 0' in logs


def test_print_config_from_quick_start_flags() -> None:
    result = CliRunner().invoke(
        app,
        [
            "gateway",
            "--model",
            "m",
            "--backend",
            "http://10.0.0.1:8000",
            "--routing",
            "power-of-two",
            "--port",
            "9000",
            "--upstream-client",
            "aiohttp",
            "--print-config",
        ],
    )
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.output)
    assert config["upstream_client"] == "aiohttp"
    assert config["kind"] == "GatewayConfig"
    assert {k: config["listen"][k] for k in ("host", "port", "tls_cert", "tls_key")} == {
        "host": "127.0.0.1",
        "port": 9000,
        "tls_cert": None,
        "tls_key": None,
    }
    assert config["pools"][0]["backends"]["urls"] == ["http://10.0.0.1:8000"]
    assert config["pools"][0]["routing"] == "power-of-two"


def test_cli_errors_say_what_to_do(tmp_path: Path) -> None:
    from kubellm.errors import UsageError

    runner = CliRunner()
    for args in (
        ["gateway"],
        ["gateway", "--model", "m", "--backend", "10.0.0.1:8000"],
        ["gateway", "--model", "m", "--routing", "random"],
        ["gateway", "--tls-cert", "x"],
        ["gateway", "--model", "m", "--backend", "http://10.0.0.1:8000", "--upstream-client", "curl"],
    ):
        result = runner.invoke(app, args)
        assert isinstance(result.exception, UsageError), args
        assert result.exception.fix
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: GatewayConfig\npools:\n  - name: a\n    fallback_pool: b\n")
    result = runner.invoke(app, ["gateway", "--config", str(bad)])
    assert "fallback_pool" in str(result.exception)


def test_warns_when_open_beyond_loopback(stack: Stack, caplog: object) -> None:
    import logging

    from kubellm.gateway.server import Gateway
    from kubellm.spec.gateway import GatewayConfig

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("kubellm.gateway")
    logger.addHandler(handler)
    try:
        gateway = Gateway(GatewayConfig.model_validate({"listen": {"host": "0.0.0.0", "port": 0}}))
        stack.loop.run(gateway.start())
        stack.gateways.append(gateway)
    finally:
        logger.removeHandler(handler)
    assert any("without API keys" in r.getMessage() for r in records)
