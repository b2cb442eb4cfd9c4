"""The apply/status/delete/doctor commands end to end: real render of an example spec, the API test double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.errors import KubellmError

from .fake_apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llama-3.1-8b-l4.yaml"
DATA = Path(__file__).parent / "data"
runner = CliRunner()


@pytest.fixture
def kubeconfig(api: FakeApiServer, tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(api.kubeconfig())
    return str(path)


def needs_render() -> None:
    pytest.importorskip("kubellm.render")
    if not EXAMPLE.is_file():
        pytest.skip("example spec not present")


def test_apply_renders_and_applies_the_example(api: FakeApiServer, kubeconfig: str) -> None:
    needs_render()
    result = runner.invoke(app, ["apply", str(EXAMPLE), "--force", "--kubeconfig", kubeconfig])
    assert result.exit_code == 0, result.output
    assert "StatefulSet/llm/llama-8b created" in result.output  # a model cache per replica
    kinds = [c.body["kind"] for c in api.calls("PATCH")]
    assert kinds[0] == "Namespace" and kinds.index("StatefulSet") > kinds.index("Service")
    managers = {c.body["kind"]: c.query["fieldManager"] for c in api.calls("PATCH")}
    assert managers.pop("Secret") == "kubellm-applyset"  # the ApplySet parent
    assert set(managers.values()) == {"kubellm"}
    again = runner.invoke(app, ["apply", str(EXAMPLE), "--force", "--kubeconfig", kubeconfig])
    assert "StatefulSet/llm/llama-8b unchanged" in again.output and " created" not in again.output


def test_server_dry_run_output_says_so(api: FakeApiServer, kubeconfig: str) -> None:
    needs_render()
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    result = runner.invoke(
        app, ["apply", str(EXAMPLE), "--force", "--dry-run=server", "--kubeconfig", kubeconfig]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "server dry run: the API server checks every object and stores none"
    assert "StatefulSet/llm/llama-8b created (server dry run; checked in namespace default)" in lines
    as_json = runner.invoke(
        app, ["apply", str(EXAMPLE), "--force", "--dry-run=server", "--kubeconfig", kubeconfig, "--json"]
    )
    payload = json.loads(as_json.output)
    assert payload["dry_run"] == "server" and all(a["dry_run"] for a in payload["actions"])
    assert {k[1] for k in api.store} == {"namespaces"}


def test_namespace_scoped_user_applies_with_no_namespace_and_status_says_what_it_could_not_read(
    api: FakeApiServer, kubeconfig: str
) -> None:
    needs_render()
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}})
    api.forbidden |= {("patch", "namespaces"), ("create", "namespaces"), ("patch", "resourcequotas"),
                      ("create", "resourcequotas"), ("list", "nodes"), ("list", "pods", ""),
                      ("list", "runtimeclasses")}  # fmt: skip
    refused = runner.invoke(app, ["apply", str(EXAMPLE), "--force", "--kubeconfig", kubeconfig])
    assert refused.exit_code == 1 and "--no-namespace" in str(refused.exception)
    result = runner.invoke(
        app, ["apply", str(EXAMPLE), "--force", "--no-namespace", "--kubeconfig", kubeconfig]
    )
    assert result.exit_code == 0, result.output
    # the example shares namespace llm: it renders no quota of its own (render several specs for one)
    assert "Namespace/llm skipped" in result.output and "ResourceQuota" not in result.output
    status = runner.invoke(app, ["status", str(EXAMPLE), "--kubeconfig", kubeconfig])
    assert "cluster GPU totals unknown" in status.output
    assert "could not list Node cluster-wide: forbidden" in status.output
    as_json = json.loads(
        runner.invoke(app, ["status", str(EXAMPLE), "--kubeconfig", kubeconfig, "--json"]).output
    )
    assert as_json["gpus"]["cluster_allocatable"] is None
    assert any(w.startswith("could not list RuntimeClass") for w in as_json["could_not_read"])


def test_apply_refuses_lint_errors_without_force(monkeypatch: pytest.MonkeyPatch, kubeconfig: str) -> None:
    needs_render()
    monkeypatch.setattr(
        "kubellm.cluster.manifests.lint_service",
        lambda objects: (
            ["GPU005 Deployment/llama-8b: tensor parallel 2 without /dev/shm — mount a memory emptyDir"],
            [],
        ),
    )
    result = runner.invoke(app, ["apply", str(EXAMPLE), "--kubeconfig", kubeconfig])
    assert isinstance(result.exception, KubellmError)
    assert "lint found 1 error(s)" in result.exception.what and "--force" in result.exception.fix


def test_client_dry_run_needs_no_cluster() -> None:
    needs_render()
    result = runner.invoke(app, ["apply", str(EXAMPLE), "--dry-run=client", "--force", "--json"])
    assert result.exit_code == 0, result.output
    objects = json.loads(result.output)["objects"]
    assert objects[0] == "Namespace/llm" and "StatefulSet/llm/llama-8b" in objects


def test_delete_then_status(api: FakeApiServer, kubeconfig: str) -> None:
    needs_render()
    assert runner.invoke(app, ["apply", str(EXAMPLE), "--force", "--kubeconfig", kubeconfig]).exit_code == 0
    status = runner.invoke(app, ["status", str(EXAMPLE), "--kubeconfig", kubeconfig, "--json"])
    assert status.exit_code == 0, status.output
    assert {w["name"] for w in json.loads(status.output)["workloads"]} >= {"llama-8b"}
    text = runner.invoke(app, ["status", str(EXAMPLE), "--kubeconfig", kubeconfig])
    assert text.exit_code == 0, text.output
    assert "StatefulSet llama-8b: 0/1 ready" in text.output
    assert "engine metrics: not reachable" in text.output
    deleted = runner.invoke(app, ["delete", str(EXAMPLE), "--kubeconfig", kubeconfig])
    assert deleted.exit_code == 0, deleted.output
    # the cache claims belong to the StatefulSet (volumeClaimTemplates), which retains them on delete;
    # nothing of the ApplySet is left, so its parent Secret goes too
    assert {o["kind"] for o in api.store.values()} == {"Namespace"}


def test_no_kubeconfig_is_a_one_line_error(tmp_path: Path) -> None:
    needs_render()
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", "from kubellm.cli.app import main; main()", "status", str(EXAMPLE)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no Kubernetes credentials")
    assert "--kubeconfig" in lines[0]


def test_doctor_from_dump_json_contract() -> None:
    result = runner.invoke(
        app, ["doctor", "--from-dump", str(DATA / "dump-a100-crashloop"), "-n", "llm", "--json"]
    )
    assert result.exit_code == 1
    findings = json.loads(result.output)["findings"]
    assert findings and all(
        set(f) == {"id", "category", "severity", "object", "evidence", "cause", "fix", "spec_field"}
        for f in findings
    )
    assert "SIG001" in {f["id"] for f in findings}


def test_doctor_on_a_clean_log(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("INFO:     Started server process [1]\nINFO:     Application startup complete.\n")
    result = runner.invoke(app, ["doctor", "--logs", str(log)])
    assert result.exit_code == 0 and "no problems found" in result.output


def test_apply_wait_prints_the_endpoint(api: FakeApiServer, kubeconfig: str) -> None:
    needs_render()

    def finish_rollout(plural: str, namespace: str) -> None:  # the cluster "runs" what was applied
        for (_, kind_plural, _, _), stored in list(api.store.items()):
            if kind_plural in ("deployments", "statefulsets"):
                replicas = stored.get("spec", {}).get("replicas", 1)
                stored["status"] = {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "updatedReplicas": replicas,
                }
            elif kind_plural == "jobs":
                stored["status"] = {"succeeded": 1}

    api.on_get = finish_rollout
    result = runner.invoke(
        app, ["apply", str(EXAMPLE), "--force", "--wait", "--timeout", "5", "--kubeconfig", kubeconfig]
    )
    assert result.exit_code == 0, result.output
    assert "; llama-8b: 1/1 ready" in result.output
    assert "llama-8b-gateway: 2/2 ready" in result.output
    assert "ready: https://llama-8b.example.com/v1" in result.output  # the spec sets gateway.host


def test_live_doctor_with_a_spec_expects_its_autoscaler(kubeconfig: str, tmp_path: Path) -> None:
    needs_render()
    from .fake_apiserver import BUILTIN, PROMETHEUS_OPERATOR

    api = FakeApiServer(served={**BUILTIN, **PROMETHEUS_OPERATOR}).start()
    try:
        path = tmp_path / "no-keda"
        path.write_text(api.kubeconfig())
        result = runner.invoke(app, ["doctor", str(EXAMPLE), "--kubeconfig", str(path), "--json"])
    finally:
        api.stop()
    assert result.exit_code == 1, result.output
    by_id = {f["id"]: f for f in json.loads(result.output)["findings"]}
    assert by_id["DOC109"]["spec_field"] == "scaling.autoscaler"
