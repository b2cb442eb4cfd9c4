"""`kubellm bench URL --against SPEC`: a real simulator server planned from SPEC, measured over HTTP, with
the planner's and the simulator's predictions beside each level."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.sizing.compare import error_pct
from kubellm.spec.bench import BenchResults

SPEC = """\
apiVersion: kubellm.dev/v1alpha1
kind: LLMService
metadata:
  name: small
model:
  source: hf://Qwen/Qwen2.5-1.5B-Instruct
engine:
  image: vllm/vllm-openai:v0.11.0
gpu:
  type: L4
  count: 1
serving:
  max_model_len: 4096
  slo:
    ttft_p95_ms: 2000
    itl_p95_ms: 200
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    spec = tmp_path_factory.mktemp("against") / "small.yaml"
    spec.write_text(SPEC)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [
        sys.executable,
        "-c",
        "from kubellm.cli.app import main; main()",
        "sim",
        str(spec),
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the simulator did not start: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.1)
        yield url, spec
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_predictions_sit_beside_each_measured_level(served: tuple[str, Path]) -> None:
    url, spec = served
    args = ["bench", url, "-m", "Qwen/Qwen2.5-1.5B-Instruct", "-c", "1,4", "--requests", "8",
            "--input-tokens", "128", "--output-tokens", "24", "--against", str(spec), "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    results = BenchResults.model_validate(json.loads(result.stdout))
    # no --slo given: the levels are judged against the spec's serving.slo
    assert [t.label for t in results.metadata.config.slo] == ["ttft_p95=2000ms", "itl_p95=200ms"]
    assert all(p.slo_met for p in results.points)
    report = results.against
    assert report is not None
    assert (report.gpu, report.gpus_per_replica, report.replicas) == ("L4", 1, 1)
    assert report.engine == "vllm v0.11.0" and report.calibration == "ada"
    assert [level.load for level in report.levels] == ["c=1", "c=4"]
    for level in report.levels:
        # the server runs the same model in real time, so the simulator's prediction is close
        assert abs(error_pct(level.sim.tpot_p50_ms, level.measured.tpot_p50_ms) or 1e9) < 50
        assert abs(error_pct(level.plan.tpot_p50_ms, level.measured.tpot_p50_ms) or 1e9) < 50
        assert level.sim.output_tokens_per_s and level.measured.output_tokens_per_s
