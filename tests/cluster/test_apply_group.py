"""`kubellm apply a.yaml b.yaml`: rendered together, applied as one ApplySet per service plus one for what the
namespace's services share (Namespace, the GPU quota, the one gateway)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.cluster.manifests import build_group
from kubellm.errors import UsageError

from .fake_apiserver import FakeApiServer

runner = CliRunner()
SPECS = {
    "llama-8b": {
        "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
        "gpu": {"type": "L4", "count": 1},
    },
    "qwen-7b": {"model": {"source": "hf://Qwen/Qwen2.5-7B-Instruct"}, "gpu": {"type": "L4", "count": 1}},
}


@pytest.fixture
def specs(tmp_path: Path) -> list[Path]:
    paths = []
    for name, body in SPECS.items():
        data: dict[str, Any] = {"metadata": {"name": name, "namespace": "llm"}, "security": {"hf_token_secret": "hf-token"},
                                "scaling": {"min_replicas": 1, "max_replicas": 2}, **body}  # fmt: skip
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        paths.append(path)
    return paths


@pytest.fixture
def kubeconfig(api: FakeApiServer, tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(api.kubeconfig())
    return str(path)


def test_the_group_splits_by_owner_and_shares_one_gateway_and_quota(specs: list[Path]) -> None:
    group = build_group(specs)
    assert [m.name for m in group] == ["llm", "llama-8b", "qwen-7b"]
    shared = {(o["kind"], o["metadata"]["name"]) for o in group[0].objects}
    assert {("Namespace", "llm"), ("ResourceQuota", "llm-gpus"), ("Deployment", "llm-gateway")} <= shared
    for service in group[1:]:
        kinds = {o["kind"] for o in service.objects}
        assert "StatefulSet" in kinds and all(
            not o["metadata"]["name"].endswith("-gateway") for o in service.objects
        )


def test_apply_of_two_specs_applies_one_gateway_and_a_quota_that_admits_both(
    api: FakeApiServer, kubeconfig: str, specs: list[Path]
) -> None:
    result = runner.invoke(app, ["apply", *map(str, specs), "--force", "--kubeconfig", kubeconfig, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["endpoints"] == ["http://llm-gateway.llm.svc.cluster.local:80/v1"]
    stored = {(o["kind"], o["metadata"]["name"]): o for o in api.store.values()}
    assert ("Deployment", "llm-gateway") in stored and ("Deployment", "llama-8b-gateway") not in stored
    assert stored[("ResourceQuota", "llm-gpus")]["spec"]["hard"] == {"requests.nvidia.com/gpu": "4"}
    assert {("StatefulSet", "llama-8b"), ("StatefulSet", "qwen-7b")} <= set(stored)


def test_wait_needs_one_spec(specs: list[Path], kubeconfig: str) -> None:
    result = runner.invoke(app, ["apply", *map(str, specs), "--wait", "--kubeconfig", kubeconfig])
    assert isinstance(result.exception, UsageError) and "--wait" in result.exception.what
