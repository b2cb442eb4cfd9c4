"""Credentials for the Kubernetes API: a kubeconfig (token, client certificate, exec plugin) or in-cluster.

Order: ``--kubeconfig``, then ``$KUBECONFIG`` (first existing file of the list), then ``~/.kube/config``,
then the pod's service account. Only what the thin client needs is read.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubellm.errors import KubellmError, UsageError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NO_CREDENTIALS_FIX = (
    "point --kubeconfig or $KUBECONFIG at a kubeconfig (gcloud container clusters get-credentials …, "
    "aws eks update-kubeconfig …, az aks get-credentials …), or run inside the cluster; "
    "`--dry-run=client` works without a cluster"
)


class CredentialsError(KubellmError):
    """No usable credentials for the Kubernetes API."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where the API server is and how to authenticate to it."""

    server: str
    namespace: str = "default"
    context: str = "in-cluster"
    token: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    insecure: bool = False


def _b64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value else None


def _read(path: str | None, base: Path) -> bytes | None:
    if not path:
        return None
    full = Path(path) if Path(path).is_absolute() else base / path
    try:
        return full.read_bytes()
    except OSError as exc:
        raise CredentialsError(
            f"kubeconfig names {full}, which cannot be read ({exc.strerror})", "fix the path"
        ) from None


def _named(items: Any, name: str, what: str, source: Path) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(what)
            return value if isinstance(value, dict) else {}
    raise CredentialsError(
        f"{source}: no {what} named {name!r}", "check `kubectl config view` and pick a valid --context"
    )


def _exec_token(spec: dict[str, Any]) -> str:
    """Run a client-go exec credential plugin (gke-gcloud-auth-plugin, aws eks get-token …) for a token."""
    command = [str(spec.get("command", ""))] + [str(a) for a in spec.get("args") or []]
    env = dict(os.environ)
    env.update({str(e["name"]): str(e["value"]) for e in spec.get("env") or [] if isinstance(e, dict)})
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=True).stdout
    except FileNotFoundError:
        raise CredentialsError(
            f"the kubeconfig's credential plugin {command[0]!r} is not installed",
            str(spec.get("installHint") or "install it or use a kubeconfig with a token"),
        ) from None
    except subprocess.CalledProcessError as exc:
        raise CredentialsError(
            f"credential plugin {command[0]!r} failed: {exc.stderr.strip()[:200]}",
            "log in again with your cloud CLI",
        ) from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(
            f"credential plugin {command[0]!r} timed out", "log in again with your cloud CLI"
        ) from None
    try:
        token = json.loads(out)["status"]["token"]
    except (ValueError, KeyError, TypeError):
        raise CredentialsError(f"credential plugin {command[0]!r} printed no token", "log in again") from None
    return str(token)


def from_kubeconfig(path: Path, context: str | None = None) -> Credentials:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CredentialsError(f"{path}: not a readable kubeconfig ({exc})", NO_CREDENTIALS_FIX) from None
    if not isinstance(config, dict):
        raise CredentialsError(f"{path}: not a kubeconfig", NO_CREDENTIALS_FIX)
    name = context or config.get("current-context")
    if not name:
        raise CredentialsError(
            f"{path}: no current-context", "kubectl config use-context <name>, or pass --context"
        )
    ctx = _named(config.get("contexts"), str(name), "context", path)
    cluster = _named(config.get("clusters"), str(ctx.get("cluster")), "cluster", path)
    user = _named(config.get("users"), str(ctx.get("user")), "user", path) if ctx.get("user") else {}
    base = path.parent
    if not cluster.get("server"):
        raise CredentialsError(f"{path}: cluster {ctx.get('cluster')!r} has no server", NO_CREDENTIALS_FIX)
    if "auth-provider" in user:
        raise CredentialsError(
            f"{path}: user {ctx.get('user')!r} uses the removed auth-provider mechanism",
            "regenerate the kubeconfig with your cloud CLI (it writes an exec plugin instead)",
        )
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (_read(str(user["tokenFile"]), base) or b"").decode().strip()
    if not token and isinstance(user.get("exec"), dict):
        token = _exec_token(user["exec"])
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        namespace=str(ctx.get("namespace") or "default"),
        context=str(name),
        token=str(token) if token else None,
        ca_data=_b64(cluster.get("certificate-authority-data"))
        or _read(cluster.get("certificate-authority"), base),
        cert_data=_b64(user.get("client-certificate-data")) or _read(user.get("client-certificate"), base),
        key_data=_b64(user.get("client-key-data")) or _read(user.get("client-key"), base),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def in_cluster(
    sa_dir: Path = SERVICE_ACCOUNT_DIR, environ: Mapping[str, str] | None = None
) -> Credentials | None:
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = sa_dir / "token"
    if not host or not token_file.is_file():
        return None
    host = f"[{host}]" if ":" in host else host
    namespace_file = sa_dir / "namespace"
    return Credentials(
        server=f"https://{host}:{port}",
        namespace=namespace_file.read_text().strip() if namespace_file.is_file() else "default",
        token=token_file.read_text().strip(),
        ca_file=str(sa_dir / "ca.crt") if (sa_dir / "ca.crt").is_file() else None,
    )


def load_credentials(
    kubeconfig: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    sa_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Credentials:
    """The credentials to use, or a CredentialsError that says how to get some."""
    env = os.environ if environ is None else environ
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise UsageError(f"--kubeconfig {kubeconfig}: no such file", NO_CREDENTIALS_FIX)
        return from_kubeconfig(path, context)
    for entry in (env.get("KUBECONFIG") or "").split(os.pathsep):
        if entry and Path(entry).expanduser().is_file():
            return from_kubeconfig(Path(entry).expanduser(), context)
    default = (home or Path.home()) / ".kube" / "config"
    if default.is_file():
        return from_kubeconfig(default, context)
    creds = in_cluster(sa_dir, env)
    if creds is not None:
        return creds
    raise CredentialsError(
        "no Kubernetes credentials: no kubeconfig found and not running in a pod", NO_CREDENTIALS_FIX
    )
