"""`kubellm bench --render-job`: a valid Job + ConfigMap that splits the load over pods."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubellm.bench.job import render_job
from kubellm.cli.app import app
from kubellm.errors import UsageError
from kubellm.spec.bench import BenchConfig


def test_render_job_cli_prints_valid_objects_with_the_load_split() -> None:
    out = CliRunner().invoke(
        app,
        [
            "bench",
            "http://llm.svc:8000",
            "-m",
            "llama",
            "-c",
            "64,128",
            "--render-job",
            "--pods",
            "4",
            "--image",
            "ghcr.io/org/kubellm:0.1.0",
            "--api-key-secret",
            "llm-key",
        ],
    )
    assert out.exit_code == 0, out.output
    config_map, job = list(yaml.safe_load_all(out.output))
    assert config_map["kind"] == "ConfigMap" and job["kind"] == "Job"
    pod_config = BenchConfig.model_validate(json.loads(config_map["data"]["bench.json"]))
    assert pod_config.concurrency == [16, 32]
    assert pod_config.api_key_env == "KUBELLM_API_KEY"
    assert job["spec"]["parallelism"] == 4 and job["spec"]["completionMode"] == "Indexed"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][-2:] == ["/etc/kubellm-bench/bench.json", "--json"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "llm-key"


def test_rendered_objects_pass_the_kubernetes_schema() -> None:
    kv = pytest.importorskip("kubernetes_validate")
    config = BenchConfig(url="http://llm:8000", model="m", rate=[10.0, 20.0], duration_s=60)
    for obj in render_job(config, pods=2, image="img:1"):
        kv.validate(obj, "1.30", strict=True)
    cm = render_job(config, pods=2, image="img:1")[0]
    assert BenchConfig.model_validate_json(cm["data"]["bench.json"]).rate == [5.0, 10.0]


def test_tokenizer_cannot_be_shipped() -> None:
    with pytest.raises(UsageError, match="tokenizer"):
        render_job(BenchConfig(url="http://x", model="m", tokenizer="/t.json"), image="i")


def test_pod_command_runs_the_config_and_its_output_merges(timed_url: str, tmp_path: Path) -> None:
    # What each pod does: `kubellm bench --config bench.json --json`; then `bench merge` of the logs.
    config = BenchConfig(url=timed_url, model="fake", concurrency=[4], requests=8, output_tokens=2)
    config_map = render_job(config, pods=2, image="img:1")[0]
    bench_json = tmp_path / "bench.json"
    bench_json.write_text(config_map["data"]["bench.json"])
    logs = []
    for pod in range(2):
        out = CliRunner().invoke(app, ["bench", "--config", str(bench_json), "--json"])
        assert out.exit_code == 0, out.output
        log = tmp_path / f"pod-{pod}.json"
        log.write_text(out.stdout)
        logs.append(str(log))
    merged = CliRunner().invoke(app, ["bench", "merge", *logs, "--json"])
    assert merged.exit_code == 0, merged.output
    point = json.loads(merged.stdout)["points"][0]
    assert point["concurrency"] == 4 and point["requests"] == 16  # 2 pods × 2 workers, 8 requests each
