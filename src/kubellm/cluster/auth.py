"""Authentication as a flow that can run again: bearer tokens from the kubeconfig, a token file, or an exec plugin.

The exec plugin (gke-gcloud-auth-plugin, aws eks get-token, kubelogin …) runs when the first request
needs a token, again when the token it returned expires, and again when the server answers 401 — the
request is then retried once with the new token, so a long ``apply --wait`` outlives 15-minute EKS
tokens. A token file (the in-cluster service account) is re-read on 401, as the kubelet rotates it.
Parsing the plugin's output is a pure function; running it is the thin part.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2

from kubellm.cluster.kubeconfig import Credentials, CredentialsError, ExecPlugin

# Refresh a little before the plugin's expiry so a request in flight does not carry a dying token.
EXPIRY_MARGIN_S = 30.0


@dataclass(frozen=True, slots=True)
class ExecToken:
    """What an exec plugin returned: the bearer token and when it expires (epoch seconds; None = never)."""

    token: str
    expires_at: float | None = None


def exec_info(plugin: ExecPlugin, creds: Credentials, interactive: bool) -> dict[str, Any]:
    """The KUBERNETES_EXEC_INFO document client-go hands a plugin."""
    spec: dict[str, Any] = {"interactive": interactive}
    if plugin.provide_cluster_info:
        cluster: dict[str, Any] = {"server": creds.server}
        if creds.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(creds.ca_data).decode()
        if creds.insecure:
            cluster["insecure-skip-tls-verify"] = True
        if creds.tls_server_name:
            cluster["tls-server-name"] = creds.tls_server_name
        spec["cluster"] = cluster
    return {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}


def parse_exec_credential(output: str, plugin: ExecPlugin) -> ExecToken:
    """Token and expiry from a plugin's ExecCredential; a wrong apiVersion or no token is an error."""
    name = Path(plugin.command).name
    try:
        data = json.loads(output)
    except ValueError:
        raise CredentialsError(f"credential plugin {name!r} printed no JSON", "log in again") from None
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
        raise CredentialsError(f"credential plugin {name!r} printed no ExecCredential", "log in again")
    if data.get("apiVersion") not in (None, plugin.api_version):
        raise CredentialsError(
            f"credential plugin {name!r} answered {data.get('apiVersion')}, the kubeconfig asked for "
            f"{plugin.api_version}",
            "set the kubeconfig's exec apiVersion to what the plugin speaks, or update the plugin",
        )
    status: dict[str, Any] = data["status"] if isinstance(data.get("status"), dict) else {}
    token = status.get("token")
    if not token:
        what = (
            "returned a client certificate, which kubellm does not use"
            if status.get("clientCertificateData")
            else "printed no token"
        )
        raise CredentialsError(
            f"credential plugin {name!r} {what}", "use a plugin or kubeconfig with a token"
        )
    expires_at = None
    if status.get("expirationTimestamp"):
        stamp = str(status["expirationTimestamp"]).replace("Z", "+00:00")
        try:
            expires_at = datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            raise CredentialsError(
                f"credential plugin {name!r} gave an unreadable expirationTimestamp {stamp!r}", "update it"
            ) from None
    return ExecToken(str(token), expires_at)


def run_exec_plugin(plugin: ExecPlugin, creds: Credentials) -> ExecToken:
    """Run the plugin as client-go does (KUBERNETES_EXEC_INFO in its environment) and read its token."""
    interactive = plugin.interactive_mode != "Never" and sys.stdin.isatty()
    if plugin.interactive_mode == "Always" and not interactive:
        raise CredentialsError(
            f"credential plugin {plugin.command!r} needs an interactive terminal (interactiveMode: Always)",
            "run kubellm from a terminal, or log in first so the plugin needs no prompt",
        )
    env = dict(os.environ) | dict(plugin.env)
    env["KUBERNETES_EXEC_INFO"] = json.dumps(exec_info(plugin, creds, interactive))
    command = [plugin.command, *plugin.args]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            stdin=None if interactive else subprocess.DEVNULL,
            text=True,
            timeout=120,
            env=env,
            check=True,
        )
    except FileNotFoundError:
        raise CredentialsError(
            f"the kubeconfig's credential plugin {plugin.command!r} is not installed",
            plugin.install_hint.strip() or "install it or use a kubeconfig with a token",
        ) from None
    except PermissionError:
        raise CredentialsError(
            f"the kubeconfig's credential plugin {plugin.command!r} is not executable", "chmod +x it"
        ) from None
    except subprocess.CalledProcessError as exc:
        raise CredentialsError(
            f"credential plugin {Path(plugin.command).name!r} failed: {exc.stderr.strip()[:200]}",
            "log in again with your cloud CLI",
        ) from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(
            f"credential plugin {Path(plugin.command).name!r} timed out", "log in again with your cloud CLI"
        ) from None
    return parse_exec_credential(done.stdout, plugin)


class KubeAuth(httpx2.Auth):
    """Adds the bearer token to each request; refreshes it (once per request) when the server says 401."""

    def __init__(
        self,
        creds: Credentials,
        run_plugin: Callable[[ExecPlugin, Credentials], ExecToken] = run_exec_plugin,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.creds = creds
        self._run_plugin = run_plugin
        self._clock = clock
        self._cached: ExecToken | None = None
        self.plugin_runs = 0

    def _fresh(self) -> bool:
        cached = self._cached
        return cached is not None and (
            cached.expires_at is None or cached.expires_at - EXPIRY_MARGIN_S > self._clock()
        )

    def token(self) -> str | None:
        """The token to send now (the exec plugin runs here when there is none or it expired)."""
        if self.creds.exec_plugin is not None:
            if not self._fresh():
                self._cached = self._run_plugin(self.creds.exec_plugin, self.creds)
                self.plugin_runs += 1
            return self._cached.token if self._cached else None
        if self.creds.token_file and self._cached is None:
            try:
                self._cached = ExecToken(Path(self.creds.token_file).read_text().strip())
            except OSError as exc:
                raise CredentialsError(
                    f"token file {self.creds.token_file} cannot be read ({exc.strerror})",
                    "fix the kubeconfig",
                ) from None
        return self._cached.token if self._cached else self.creds.token

    def refreshable(self) -> bool:
        return self.creds.exec_plugin is not None or self.creds.token_file is not None

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        token = self.token()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self.refreshable():
            self._cached = None
            token = self.token()
            if token:
                request.headers["Authorization"] = f"Bearer {token}"
            yield request
