"""Authentication that runs again: exec plugins re-run on expiry and on 401, token files re-read, as client-go does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kubellm.cluster.auth import KubeAuth, exec_info, parse_exec_credential
from kubellm.cluster.client import KubeClient
from kubellm.cluster.kubeconfig import Credentials, CredentialsError, ExecPlugin

from .fake_apiserver import FakeApiServer

PLUGIN = """#!{python}
import json, os, pathlib
here = pathlib.Path(__file__).parent
with open(here / "runs.log", "a") as log:
    log.write(os.environ.get("KUBERNETES_EXEC_INFO", "") + "\\n")
token = (here / "current-token").read_text().strip()
status = {{"token": token}}
expiry = (here / "expiry").read_text().strip() if (here / "expiry").exists() else ""
if expiry:
    status["expirationTimestamp"] = expiry
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": status}}))
"""


def plugin(tmp_path: Path, token: str) -> Path:
    script = tmp_path / "bin" / "get-token"
    script.parent.mkdir(exist_ok=True)
    script.write_text(PLUGIN.format(python=sys.executable))
    script.chmod(0o755)
    (script.parent / "current-token").write_text(token)
    return script


def runs(script: Path) -> list[str]:
    log = script.parent / "runs.log"
    return log.read_text().splitlines() if log.exists() else []


def test_plugin_runs_once_then_again_when_the_server_says_401(api: FakeApiServer, tmp_path: Path) -> None:
    script = plugin(tmp_path, api.token)
    creds = Credentials(server=api.url, exec_plugin=ExecPlugin(command=str(script)))
    with KubeClient(creds, timeout_s=5) as kube:
        assert kube.resources("apps/v1") is not None
        assert kube.resources("batch/v1") is not None
        assert len(runs(script)) == 1  # cached while the server accepts it
        # the token expires server-side (a 15-minute EKS token): the next request is refused once,
        # the plugin runs again and the request is retried with the new token
        api.token = "rotated-token"
        (script.parent / "current-token").write_text("rotated-token")
        assert kube.resources("policy/v1") is not None
        assert len(runs(script)) == 2
    unauthorized = [r for r in api.requests if r.path == "/apis/policy/v1"]
    assert len(unauthorized) == 2  # refused once, then retried


def test_plugin_gets_kubernetes_exec_info_like_client_go(api: FakeApiServer, tmp_path: Path) -> None:
    script = plugin(tmp_path, api.token)
    spec = ExecPlugin(
        command=str(script), api_version="client.authentication.k8s.io/v1beta1", provide_cluster_info=True
    )
    creds = Credentials(server=api.url, exec_plugin=spec, ca_data=b"CA")
    KubeAuth(creds).token()
    info = json.loads(runs(script)[0])
    assert info == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "spec": {"interactive": False, "cluster": {"server": api.url, "certificate-authority-data": "Q0E="}},
    }


def test_an_expired_token_is_refreshed_before_it_is_sent(tmp_path: Path) -> None:
    script = plugin(tmp_path, "t1")
    (script.parent / "expiry").write_text("2026-12-08T10:15:00Z")
    now = [1796724000.0]  # 2026-12-08T10:00:00Z
    auth = KubeAuth(
        Credentials(server="https://x", exec_plugin=ExecPlugin(command=str(script))), clock=lambda: now[0]
    )
    assert auth.token() == "t1" and auth.plugin_runs == 1
    now[0] += 14 * 60  # 14 minutes later: still fresh (30 s margin)
    assert auth.token() == "t1" and auth.plugin_runs == 1
    now[0] += 31  # within the margin of the expiry: run again
    (script.parent / "current-token").write_text("t2")
    assert auth.token() == "t2" and auth.plugin_runs == 2


def test_token_file_is_read_again_after_401(api: FakeApiServer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(api.token)
    with KubeClient(Credentials(server=api.url, token_file=str(token_file)), timeout_s=5) as kube:
        assert kube.resources("v1") is not None
        api.token = "kubelet-rotated"
        token_file.write_text("kubelet-rotated\n")
        assert kube.resources("apps/v1") is not None


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("not json", "printed no JSON"),
        ('{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1", "status": {"token": "x"}}',
         "answered client.authentication.k8s.io/v1"),
        ('{"kind": "ExecCredential", "status": {"clientCertificateData": "-----BEGIN"}}', "client certificate"),
        ('{"kind": "ExecCredential", "status": {"token": "x", "expirationTimestamp": "soon"}}', "unreadable"),
    ],
)  # fmt: skip
def test_bad_plugin_output_is_an_error_with_a_fix(output: str, message: str) -> None:
    with pytest.raises(CredentialsError) as info:
        parse_exec_credential(output, ExecPlugin(command="/usr/bin/aws"))
    assert message in info.value.what and info.value.fix


def test_exec_info_without_cluster_info() -> None:
    spec = ExecPlugin(command="kubelogin", api_version="client.authentication.k8s.io/v1")
    assert exec_info(spec, Credentials(server="https://x"), interactive=False) == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
