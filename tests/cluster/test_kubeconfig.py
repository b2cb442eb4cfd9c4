"""Credentials: kubeconfig (token, files, client certificates, exec plugins, contexts) and in-cluster."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

from kubellm.cluster.auth import KubeAuth
from kubellm.cluster.kubeconfig import CredentialsError, in_cluster, load_credentials
from kubellm.errors import UsageError

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: gke_proj_us-central1_llm
clusters:
- name: gke_proj_us-central1_llm
  cluster:
    server: https://34.118.10.2
    certificate-authority-data: {ca}
- name: kind-dev
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: gke_proj_us-central1_llm
  context: {{cluster: gke_proj_us-central1_llm, user: gke-user, namespace: llm}}
- name: kind-dev
  context: {{cluster: kind-dev, user: kind-user}}
users:
- name: gke-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: {python}
      args: ["-c", "import json; print(json.dumps({{'kind': 'ExecCredential', 'status': {{'token': 'ya29.exec-token'}}}}))"]
      installHint: Install gke-gcloud-auth-plugin
- name: kind-user
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
"""


def write_config(tmp_path: Path) -> Path:
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    text = KUBECONFIG.format(ca=b64("-----BEGIN CERTIFICATE-----\nCA\n"), python=sys.executable,
                             cert=b64("CERT"), key=b64("KEY"))  # fmt: skip
    path = tmp_path / "config"
    path.write_text(text)
    return path


def test_current_context_with_an_exec_plugin(tmp_path: Path) -> None:
    creds = load_credentials(str(write_config(tmp_path)))
    assert creds.server == "https://34.118.10.2" and creds.namespace == "llm"
    assert creds.exec_plugin is not None and creds.exec_plugin.command == sys.executable
    assert creds.token is None  # the plugin runs when a request needs it, not when the kubeconfig is read
    assert KubeAuth(creds).token() == "ya29.exec-token"
    assert creds.ca_data is not None and creds.ca_data.startswith(b"-----BEGIN CERTIFICATE-----")


def test_other_context_with_client_certificates(tmp_path: Path) -> None:
    creds = load_credentials(str(write_config(tmp_path)), context="kind-dev")
    assert (creds.cert_data, creds.key_data, creds.insecure, creds.namespace) == (
        b"CERT",
        b"KEY",
        True,
        "default",
    )


def test_kubeconfig_env_and_unknown_context(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    creds = load_credentials(
        environ={"KUBECONFIG": f"/nope:{path}"}, home=tmp_path / "home", context="kind-dev"
    )
    assert creds.context == "kind-dev"
    with pytest.raises(CredentialsError, match="no context named 'prod'"):
        load_credentials(str(path), context="prod")


def test_missing_exec_plugin_gives_its_install_hint(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace(f"command: {sys.executable}", "command: gke-gcloud-auth-plugin-missing")
    )
    creds = load_credentials(str(path))
    with pytest.raises(CredentialsError) as info:
        KubeAuth(creds).token()
    assert "not installed" in info.value.what and info.value.fix == "Install gke-gcloud-auth-plugin"


def test_in_cluster_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "namespace").write_text("llm")
    (tmp_path / "ca.crt").write_text("CA")
    creds = in_cluster(tmp_path, {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"})
    assert creds is not None
    assert (creds.server, creds.token, creds.namespace) == ("https://10.96.0.1:443", "sa-token", "llm")
    sa = tmp_path
    assert (
        load_credentials(
            environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, home=tmp_path / "h", sa_dir=sa
        ).token
        == "sa-token"
    )


def test_no_credentials_anywhere_is_one_line_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as info:
        load_credentials(environ={}, home=tmp_path, sa_dir=tmp_path / "none")
    assert "\n" not in str(info.value)
    assert "no kubeconfig found" in info.value.what and "--dry-run=client" in info.value.fix
    with pytest.raises(UsageError):
        load_credentials(str(tmp_path / "missing.yaml"))


def test_exec_command_with_a_path_is_relative_to_the_kubeconfig_like_client_go(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    text = path.read_text()
    path.write_text(text.replace(f"command: {sys.executable}", "command: ./bin/get-token"))
    assert load_credentials(str(path)).exec_plugin.command == str(tmp_path / "bin" / "get-token")  # type: ignore[union-attr]
    path.write_text(text.replace(f"command: {sys.executable}", "command: gke-gcloud-auth-plugin"))
    assert load_credentials(str(path)).exec_plugin.command == "gke-gcloud-auth-plugin"  # type: ignore[union-attr]


def test_exec_api_versions(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    text = path.read_text()
    path.write_text(text.replace("client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1"))
    assert load_credentials(str(path)).exec_plugin.api_version == "client.authentication.k8s.io/v1"  # type: ignore[union-attr]
    path.write_text(text.replace("client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v2"))
    with pytest.raises(CredentialsError, match=r"apiVersion 'client\.authentication\.k8s\.io/v2'"):
        load_credentials(str(path))


def test_kubeconfig_list_is_merged_first_file_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "config", tmp_path / "b" / "config"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_text(
        "current-context: team\ncontexts:\n- name: team\n  context: {cluster: prod, user: me, namespace: llm}\n"
        "clusters:\n- name: prod\n  cluster: {server: 'https://prod:6443', certificate-authority: ca.crt}\n"
    )
    (first.parent / "ca.crt").write_text("CA-A")
    second.write_text(
        "current-context: other\ncontexts: []\n"
        "clusters:\n- name: prod\n  cluster: {server: 'https://shadowed:6443'}\n"
        "users:\n- name: me\n  user: {tokenFile: token}\n"
    )
    (second.parent / "token").write_text("from-b\n")
    creds = load_credentials(environ={"KUBECONFIG": f"{first}:{second}"}, home=tmp_path / "home")
    assert (creds.context, creds.server, creds.namespace) == ("team", "https://prod:6443", "llm")
    assert creds.ca_data == b"CA-A"  # relative to the file that named it
    assert creds.token_file == str(second.parent / "token")
    assert KubeAuth(creds).token() == "from-b"
