"""`kubellm bench` against the simulator (a real peer over HTTP, speaking vLLM's API)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from kubellm.spec.bench import BenchConfig, TokenSource

from .conftest import run_bench

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-c", "from kubellm.cli.app import main; main()",
            "sim", "--model", MODEL, "--gpu", "h100", "--port", str(port), "--time-scale", "0.2"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"the simulator did not start: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sweep_against_the_simulator_finds_a_knee(sim_url: str) -> None:
    config = BenchConfig(
        url=sim_url, model=MODEL, concurrency=[1, 8], requests=16, input_tokens=64, output_tokens=16
    )
    results = run_bench(config)
    assert results.aborted is None
    assert [p.concurrency for p in results.points] == [1, 8]
    for point in results.points:
        assert point.errors == {} and point.requests == 16
        assert point.token_source == TokenSource.USAGE and point.output_tokens_mean == 16
        assert point.input_tokens_mean is not None and point.input_tokens_mean >= 64
    one, eight = results.points
    assert eight.output_tokens_per_s > one.output_tokens_per_s  # batching buys throughput
    assert results.knee is not None and results.knee.recommended_max_concurrency is not None
