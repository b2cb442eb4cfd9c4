"""Fake servers on 127.0.0.1 (separate processes, so their timing does not share the test's GIL)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubellm.bench.runner import BenchRun
from kubellm.bench.summary import RequestRecord
from kubellm.bench.workload import build_workload
from kubellm.spec.bench import BenchConfig, BenchResults

SERVER = Path(__file__).with_name("fake_server.py")
TTFT_MS = 50.0
ITL_MS = 10.0
API_KEY = "sk-test-123"


def _start(*args: str) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"fake server did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def timed_url() -> Iterator[str]:
    """A server with TTFT 50 ms and ITL 10 ms, exactly."""
    yield from _start("--ttft-ms", str(TTFT_MS), "--itl-ms", str(ITL_MS))


@pytest.fixture(scope="session")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTPS server with a self-signed certificate (needs the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    for url in _start("--ttft-ms", "1", "--itl-ms", "1", "--tls-cert", str(cert), "--tls-key", str(key)):
        yield url.replace("http://", "https://")


@pytest.fixture(scope="session")
def keyed_url() -> Iterator[str]:
    """A fast server that wants `Authorization: Bearer sk-test-123`."""
    yield from _start("--ttft-ms", "1", "--itl-ms", "1", "--api-key", API_KEY)


def run_bench(config: BenchConfig, headers: dict[str, str] | None = None) -> BenchResults:
    """Run a benchmark to completion on a fresh event loop."""
    return asyncio.run(BenchRun(config, build_workload(config), headers).run())


def run_bench_keeping_records(config: BenchConfig) -> tuple[BenchResults, list[RequestRecord]]:
    """Run a one-level benchmark; also return its raw request records."""
    run = BenchRun(config, build_workload(config))
    results = asyncio.run(run.run())
    return results, run.last_records
