"""The client over TLS: the cluster CA from the kubeconfig, and client-certificate authentication."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from kubellm.cluster.client import ClusterError, KubeClient
from kubellm.cluster.kubeconfig import Credentials

from .fake_apiserver import FakeApiServer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def self_signed(tmp: Path, name: str, san: str | None = None) -> tuple[Path, Path]:
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-days", "1", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)]  # fmt: skip
    if san:
        cmd += ["-addext", f"subjectAltName={san}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    return cert, key


def test_tls_with_cluster_ca_and_client_certificate(tmp_path: Path) -> None:
    server_cert, server_key = self_signed(tmp_path, "apiserver", "IP:127.0.0.1")
    client_cert, client_key = self_signed(tmp_path, "kubellm-user")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(server_cert, server_key)
    tls.load_verify_locations(client_cert)
    tls.verify_mode = ssl.CERT_REQUIRED
    api = FakeApiServer().start(tls)
    try:
        creds = Credentials(
            server=api.url,
            token=api.token,
            ca_data=server_cert.read_bytes(),
            cert_data=client_cert.read_bytes(),
            key_data=client_key.read_bytes(),
        )
        with KubeClient(creds, timeout_s=5) as kube:
            assert kube.resources("apps/v1") is not None
        untrusted = Credentials(
            server=api.url,
            token=api.token,
            cert_data=client_cert.read_bytes(),
            key_data=client_key.read_bytes(),
        )
        with (
            KubeClient(untrusted, timeout_s=5) as kube,
            pytest.raises(ClusterError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            kube.resources("apps/v1")
    finally:
        api.stop()


def test_certificate_authority_data_is_the_only_trusted_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As client-go: a kubeconfig's CA replaces the system trust store, it does not add to it."""
    server_cert, server_key = self_signed(tmp_path, "apiserver", "IP:127.0.0.1")
    other_ca, _ = self_signed(tmp_path, "other-ca")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(server_cert, server_key)
    api = FakeApiServer().start(tls)
    # the server's certificate is in the "system" store; the kubeconfig names another CA
    monkeypatch.setenv("SSL_CERT_FILE", str(server_cert))
    try:
        trusting_the_system = ssl.create_default_context()
        assert trusting_the_system.cert_store_stats()["x509_ca"] >= 1  # the system store does hold it
        creds = Credentials(server=api.url, token=api.token, ca_data=other_ca.read_bytes())
        with (
            KubeClient(creds, timeout_s=5) as kube,
            pytest.raises(ClusterError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            kube.resources("apps/v1")
        right = Credentials(server=api.url, token=api.token, ca_data=server_cert.read_bytes())
        with KubeClient(right, timeout_s=5) as kube:
            assert kube.resources("apps/v1") is not None
    finally:
        api.stop()
