"""`kubellm render` end to end through the CLI: stdout, -o DIR, --images, errors write nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from render_helpers import EXAMPLES, GOLDEN
from typer.testing import CliRunner

from kubellm.cli.app import app

runner = CliRunner()
SPEC = EXAMPLES / "llama-3.1-8b-l4.yaml"


def test_render_prints_the_golden_yaml() -> None:
    result = runner.invoke(app, ["render", str(SPEC)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "llama-3.1-8b-l4.yaml").read_text()


def test_render_to_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    result = runner.invoke(app, ["render", str(SPEC), "-o", str(out)])
    assert result.exit_code == 0, result.output
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert "statefulset-llama-8b.yaml" in kustomization["resources"]


def test_images_lists_every_pinned_image() -> None:
    result = runner.invoke(app, ["render", str(SPEC), "--images"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == sorted(result.stdout.split())
    assert "vllm/vllm-openai:v0.11.0" in result.stdout.split()


def test_a_bad_spec_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SPEC.read_text().replace("count: 1", "count: 3").replace("type: L4", "type: H100-SXM-80GB")
    )
    out = tmp_path / "deploy"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "kubellm"), "render", str(bad), "-o", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "gpu.count" in proc.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_unsupported_kubernetes_version_is_a_usage_error() -> None:
    result = runner.invoke(app, ["render", str(SPEC), "--k8s-version", "1.20"])
    assert result.exit_code != 0
    assert "1.29" in str(result.exception)


def test_render_cluster() -> None:
    result = runner.invoke(app, ["render", "cluster", str(EXAMPLES / "cluster.yaml")])
    assert result.exit_code == 0, result.output
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout)]
    assert "RuntimeClass" in kinds and "ServiceMonitor" in kinds


def test_a_cluster_spec_given_as_spec_renders_the_cluster() -> None:
    result = runner.invoke(app, ["render", str(EXAMPLES / "cluster.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "cluster.yaml").read_text()


def test_plan_warnings_go_to_stderr_not_into_the_manifests(tmp_path: Path) -> None:
    spec = tmp_path / "warn.yaml"
    spec.write_text(SPEC.read_text().replace("target_concurrency: 16", "target_concurrency: 4096"))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "kubellm"), "render", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning: target concurrency 4096" in proc.stderr
    assert "target concurrency" not in proc.stdout


def test_without_kubernetes_validate_render_still_works_and_says_so(monkeypatch: Any) -> None:
    import kubellm.cli.render as cli_render

    monkeypatch.setattr(cli_render, "_validator_installed", lambda: False)
    result = runner.invoke(app, ["render", str(SPEC)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "llama-3.1-8b-l4.yaml").read_text()
    assert "was not checked" in result.stderr


def test_provider_flag_overrides_the_specs_placement() -> None:
    result = runner.invoke(app, ["render", str(SPEC), "--provider", "gke", "--json"])
    assert result.exit_code == 0, result.output
    import json

    objects = json.loads(result.stdout)
    engine = next(o for o in objects if o["kind"] == "StatefulSet")
    terms = engine["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["key"] == "cloud.google.com/gke-accelerator"
    bad = runner.invoke(app, ["render", str(SPEC), "--provider", "digitalocean"])
    assert bad.exit_code != 0 and "placement.provider" in str(bad.exception)
