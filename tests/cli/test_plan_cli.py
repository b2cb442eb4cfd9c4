"""`kubellm plan`, `schema` and `init` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.errors import UsageError

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "kubellm", *args], capture_output=True, text=True, timeout=60
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_plan_json_has_the_contract_keys() -> None:
    code, out, _ = run("plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "h100", "--json")
    assert code == 0
    data = json.loads(out)  # stdout holds only JSON
    assert data["fits"] is True
    for key in (
        "total_gib",
        "weights_gib",
        "activation_gib",
        "non_torch_gib",
        "cuda_graph_gib",
        "kv_cache_gib",
    ):
        assert key in data["memory"]
    for key in ("bytes_per_token", "tokens", "max_concurrency"):
        assert key in data["kv_cache"]
    assert data["vllm_version"] == "0.11.0"  # the release whose accounting the plan follows
    assert {"tensor_parallel", "pipeline_parallel", "gpus_per_replica"} <= set(data["parallelism"])
    assert {"decode_ms_per_step", "prefill_tokens_per_s", "output_tokens_per_s"} <= set(data["performance"])
    assert {"usd_per_hour", "usd_per_million_output_tokens"} <= set(data["cost"])
    assert all({"what", "why"} <= set(d) for d in data["decisions"])
    for flag in ("--max-model-len", "--gpu-memory-utilization", "--tensor-parallel-size"):
        assert flag in data["engine_args"]


def test_plan_text_says_why() -> None:
    result = runner.invoke(app, ["plan", "--model", "Llama-3.3-70B-Instruct", "--gpu", "h100"])
    assert result.exit_code == 3  # documented: the plan does not fit
    assert "does not fit" in result.output
    assert "Cheapest change that fits" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "llama-9000", "--gpu", "h100"], "unknown model"),
        (["--model", "Llama-3.1-8B", "--gpu", "h1000"], "unknown GPU"),
        (["--model", "Llama-3.1-8B", "--gpu", "h100", "--tp", "3"], "does not divide"),
        (["--model", "Llama-3.1-8B", "--gpu", "h100", "--tp", "0"], "--tp"),
        (["--model", "Llama-3.1-8B", "--gpu", "h100", "--max-model-len", "-5"], "--max-model-len"),
        (
            ["--model", "Llama-3.1-8B", "--gpu", "h100", "--gpu-memory-utilization", "0"],
            "--gpu-memory-utilization",
        ),
    ],
)
def test_bad_input_gives_one_line_and_no_traceback(args: list[str], needle: str) -> None:
    code, _out, err = run("plan", *args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_incomplete_config_json_names_the_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 32000}))
    code, _, err = run("plan", "--model-config", str(path), "--gpu", "l4")
    assert code == 2
    assert "num_hidden_layers" in err and "Traceback" not in err


def test_custom_gpu_memory() -> None:
    result = runner.invoke(app, ["plan", "--model", "Llama-3.1-8B", "--gpu-memory-gib", "48", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["memory"]["total_gib"] == 48


def test_schema_is_json_schema_of_llmservice() -> None:
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.output)
    assert schema["title"] == "LLMService"
    assert "gpu" in schema["properties"]


def test_init_writes_a_spec_that_plan_accepts(tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    result = runner.invoke(
        app,
        [
            "init",
            "--model",
            "Llama-3.3-70B-Instruct",
            "--gpu",
            "h100",
            "--hf-token-secret",
            "hf-token",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.count("#") > 20  # commented
    planned = runner.invoke(app, ["plan", str(out), "--json"])
    data = json.loads(planned.stdout)
    assert data["fits"] is True
    assert data["parallelism"]["tensor_parallel"] >= 2


def test_init_refuses_a_gated_model_without_a_token_and_names_the_flag(tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    result = runner.invoke(
        app, ["init", "-m", "meta-llama/Llama-3.1-8B-Instruct", "-g", "l4", "-o", str(out)]
    )
    assert isinstance(result.exception, UsageError) and not out.exists()
    assert "gated" in result.exception.what and "--hf-token-secret" in result.exception.fix
    opened = runner.invoke(app, ["init", "-m", "Qwen/Qwen2.5-7B-Instruct", "-g", "l4", "-o", str(out)])
    assert opened.exit_code == 0, opened.output


def test_plan_refuses_a_gated_spec_without_a_token_and_warns_for_a_what_if(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "metadata: {name: llama}\nmodel: {source: hf://meta-llama/Llama-3.1-8B-Instruct}\ngpu: {type: L4, count: 1}\n"
    )
    refused = runner.invoke(app, ["plan", str(spec), "--json"])
    assert isinstance(refused.exception, UsageError) and "security.hf_token_secret" in refused.exception.fix
    what_if = runner.invoke(
        app, ["plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4", "--json"]
    )
    assert what_if.exit_code == 0 and "gated" in what_if.stderr


def test_init_for_a_provider_writes_a_spec_that_renders_there(tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    result = runner.invoke(app, ["init", "-m", "meta-llama/Llama-3.1-8B-Instruct", "-g", "l4", "--provider", "eks",
                                 "--hf-token-secret", "hf-token", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "storage_class: gp2" in out.read_text() and "provider: eks" in out.read_text()
    planned = json.loads(runner.invoke(app, ["plan", str(out), "--json"]).stdout)
    assert planned["instance"]["name"] == "g6.2xlarge" and planned["instance"]["fits"] is True
    rendered = runner.invoke(app, ["render", str(out)])
    assert rendered.exit_code == 0, rendered.output
    assert "node.kubernetes.io/instance-type" in rendered.stdout
