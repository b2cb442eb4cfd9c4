"""Every failure ends in a clear summary, and the partial results are still written."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.spec.bench import BenchConfig

from .conftest import API_KEY, run_bench

runner = CliRunner()


def _bench(url: str, model: str, out: Path, *extra: str) -> tuple[int, str, dict[str, object]]:
    result = runner.invoke(
        app,
        [
            "bench",
            url,
            "-m",
            model,
            "-c",
            "2",
            "-d",
            "0.3",
            "--output-tokens",
            "2",
            "--out",
            str(out),
            *extra,
        ],
    )
    data = json.loads((out / "results.json").read_text())
    return result.exit_code, result.output, data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_url_is_summarized_and_results_written(tmp_path: Path) -> None:
    code, output, data = _bench(f"http://127.0.0.1:{_free_port()}", "fake", tmp_path)
    assert code == 1
    assert "cannot reach" in output
    assert "cannot reach" in str(data["aborted"])
    assert (tmp_path / "report.html").exists()


def test_401_names_the_api_key_flag(keyed_url: str, tmp_path: Path) -> None:
    code, output, data = _bench(keyed_url, "fake", tmp_path)
    assert code == 1
    assert "HTTP 401" in output and "--api-key-env" in output
    assert data["points"] == []


def test_api_key_from_the_environment_is_sent(keyed_url: str, tmp_path: Path) -> None:
    import os

    os.environ["BENCH_TEST_KEY"] = API_KEY
    try:
        code, _, data = _bench(keyed_url, "fake", tmp_path, "--api-key-env", "BENCH_TEST_KEY")
    finally:
        del os.environ["BENCH_TEST_KEY"]
    assert code == 0
    points = data["points"]
    assert isinstance(points, list) and points[0]["requests"] > 0


def test_unknown_model_lists_the_served_ones(timed_url: str, tmp_path: Path) -> None:
    code, output, data = _bench(timed_url, "no-such-model", tmp_path)
    assert code == 1
    assert "does not serve model 'no-such-model'" in output and "fake" in output
    assert data["aborted"]


def test_5xx_is_counted_by_type_with_the_server_message(timed_url: str, tmp_path: Path) -> None:
    code, output, data = _bench(timed_url, "fail-500", tmp_path)
    assert code == 1
    point = data["points"][0]  # type: ignore[index]
    assert point["requests"] == 0 and point["errors"]["http_500"] > 0
    assert "HTTP 500: engine crashed" in output
    assert "every request failed" in data["stop_reason"]  # type: ignore[operator]


def test_malformed_sse_is_an_error_not_a_result(timed_url: str, tmp_path: Path) -> None:
    code, output, data = _bench(timed_url, "malformed", tmp_path)
    assert code == 1
    assert "malformed_sse" in output and "not a JSON event" in output
    assert data["points"][0]["errors"]["malformed_sse"] > 0  # type: ignore[index]


def test_stream_without_done_is_an_incomplete_stream(timed_url: str) -> None:
    config = BenchConfig(url=timed_url, model="no-done", concurrency=[1], requests=2, output_tokens=1)
    point = run_bench(config).points[0]
    assert point.errors == {"incomplete_stream": 2}
    assert point.requests == 0


def test_bad_slo_is_a_usage_error() -> None:
    result = runner.invoke(app, ["bench", "http://127.0.0.1:1", "-m", "x", "--slo", "ttft=fast"])
    assert result.exit_code != 0
    assert "cannot read 'ttft=fast'" in str(result.exception)


def test_ctrl_c_writes_the_partial_results(timed_url: str, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    args = [
        "bench",
        timed_url,
        "-m",
        "fake",
        "-c",
        "4,8",
        "-d",
        "30",
        "--output-tokens",
        "2",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kubellm.cli.app import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    data = json.loads((tmp_path / "results.json").read_text())
    assert "interrupted" in data["aborted"]
    assert data["points"][0]["concurrency"] == 4 and data["points"][0]["requests"] > 0
    assert "partial" in data["stop_reason"]


def test_untrusted_tls_certificate_aborts_unless_insecure(tls_url: str, tmp_path: Path) -> None:
    code, output, data = _bench(tls_url, "fake", tmp_path / "strict")
    assert code == 1
    assert "TLS with" in output and "--insecure" in output
    assert data["points"] == []
    code, _, data = _bench(tls_url, "fake", tmp_path / "insecure", "--insecure")
    assert code == 0
    assert data["points"][0]["requests"] > 0  # type: ignore[index]
