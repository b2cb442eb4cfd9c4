"""`kubellm sim` on the command line: virtual replays and flag errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.errors import UsageError

runner = CliRunner()


def test_virtual_poisson_prints_a_json_report() -> None:
    result = runner.invoke(
        app,
        ["sim", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "h100", "--virtual", "--rate", "2",
         "--duration", "30", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["completed"] == report["requests"] > 30
    assert report["itl_ms"]["p50"] > 0 and report["ttft_ms"]["p95"] > 0
    assert "H100" in report["engine"]


def test_virtual_trace_prints_a_table(tmp_path: Path) -> None:
    trace = tmp_path / "arrivals.jsonl"
    trace.write_text(
        "".join(
            json.dumps({"arrival_s": i * 0.5, "prompt_tokens": 200, "output_tokens": 50}) + "\n"
            for i in range(10)
        )
    )
    result = runner.invoke(
        app, ["sim", "--model", "llama-3.1-8b", "--gpu", "h200", "--trace", str(trace), "--virtual"]
    )
    assert result.exit_code == 0, result.output
    assert "TTFT" in result.output and "10/10 requests" in result.output


def test_trace_without_virtual_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sim", "--model", "llama-3.1-8b", "--gpu", "h100", "--trace", str(tmp_path / "x.jsonl")]
    )
    assert isinstance(result.exception, UsageError)
    assert "--virtual" in result.exception.fix


def test_missing_model_is_a_usage_error() -> None:
    result = runner.invoke(app, ["sim", "--gpu", "h100", "--virtual", "--rate", "1"])
    assert isinstance(result.exception, UsageError)


def test_serves_a_spec_file_over_http(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx
    import openai

    spec = tmp_path / "svc.yaml"
    spec.write_text(
        "apiVersion: kubellm.dev/v1alpha1\nkind: LLMService\nmetadata: {name: demo}\n"
        "model: {source: 'hf://Qwen/Qwen2.5-7B-Instruct', served_name: qwen}\n"
        "gpu: {type: l4, count: 1}\nserving: {max_model_len: 4096}\n"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-c", "from kubellm.cli.app import main; main()", "sim", str(spec), "--port", str(port),
           "--time-scale", "0.01", "--api-key", "k"]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
        result = client.chat.completions.create(
            model="qwen", messages=[{"role": "user", "content": "hi"}], max_tokens=3
        )
        assert result.usage is not None and result.usage.completion_tokens == 3
        assert client.models.list().data[0].model_extra == {"root": "Qwen/Qwen2.5-7B-Instruct", "parent": None, "max_model_len": 4096, "permission": []}  # fmt: skip
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert "L4" in output and "serving the OpenAI API" in output
