"""Credentials for the Kubernetes API, read from a kubeconfig as client-go reads it, or in-cluster.

Order: ``--kubeconfig``, then ``$KUBECONFIG`` (every existing file of the list, merged: the first file
that sets a name or the current context wins), then ``~/.kube/config``, then the pod's service account.
Relative paths in a file (certificates, token files, an exec command with a path separator) are
resolved against that file's directory. Exec plugins are described here and run by ``kubellm.cluster.auth``
when a request needs a token (and again when the token expires or the server answers 401).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
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
EXEC_API_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
)


class CredentialsError(KubellmError):
    """No usable credentials for the Kubernetes API."""


@dataclass(frozen=True, slots=True)
class ExecPlugin:
    """A client-go credential plugin (gke-gcloud-auth-plugin, aws eks get-token, kubelogin …)."""

    command: str
    api_version: str = "client.authentication.k8s.io/v1beta1"
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "IfAvailable"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where the API server is and how to authenticate to it."""

    server: str
    namespace: str = "default"
    context: str = "in-cluster"
    token: str | None = None
    token_file: str | None = None
    exec_plugin: ExecPlugin | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None


def _b64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value else None


def _resolve(path: str, base: Path) -> Path:
    return Path(path) if Path(path).is_absolute() else base / path


def _read(path: str | None, base: Path) -> bytes | None:
    if not path:
        return None
    full = _resolve(path, base)
    try:
        return full.read_bytes()
    except OSError as exc:
        raise CredentialsError(
            f"kubeconfig names {full}, which cannot be read ({exc.strerror})", "fix the path"
        ) from None


@dataclass
class MergedConfig:
    """Several kubeconfig files merged as client-go merges them; each entry remembers its file's directory."""

    sources: list[Path] = field(default_factory=list)
    current_context: str | None = None
    entries: dict[str, dict[str, tuple[dict[str, Any], Path]]] = field(
        default_factory=lambda: {"clusters": {}, "contexts": {}, "users": {}}
    )

    def add(self, path: Path) -> None:
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CredentialsError(f"{path}: not a readable kubeconfig ({exc})", NO_CREDENTIALS_FIX) from None
        if not isinstance(config, dict):
            raise CredentialsError(f"{path}: not a kubeconfig", NO_CREDENTIALS_FIX)
        self.sources.append(path)
        if self.current_context is None and config.get("current-context"):
            self.current_context = str(config["current-context"])
        for section, what in (("clusters", "cluster"), ("contexts", "context"), ("users", "user")):
            for item in config.get(section) or []:
                if isinstance(item, dict) and "name" in item:
                    value = item.get(what)
                    self.entries[section].setdefault(
                        str(item["name"]), (value if isinstance(value, dict) else {}, path.parent)
                    )

    def named(self, section: str, name: str) -> tuple[dict[str, Any], Path]:
        if name not in self.entries[section]:
            where = ", ".join(str(s) for s in self.sources)
            raise CredentialsError(
                f"{where}: no {section[:-1]} named {name!r}",
                "check `kubectl config view` and pick a valid --context",
            )
        return self.entries[section][name]


def exec_plugin(spec: dict[str, Any], base: Path) -> ExecPlugin:
    """The exec section of a kubeconfig user; a command with a path separator is relative to the kubeconfig."""
    command = str(spec.get("command") or "")
    if not command:
        raise CredentialsError(
            "the kubeconfig's exec plugin has no command", "fix the kubeconfig's user.exec"
        )
    if os.sep in command and not Path(command).is_absolute():
        command = str(base / command)
    api_version = str(spec.get("apiVersion") or "")
    if api_version not in EXEC_API_VERSIONS:
        raise CredentialsError(
            f"exec plugin apiVersion {api_version!r} is not one of {', '.join(EXEC_API_VERSIONS)}",
            "regenerate the kubeconfig with your cloud CLI",
        )
    env = tuple((str(e["name"]), str(e["value"])) for e in spec.get("env") or [] if isinstance(e, dict))
    return ExecPlugin(
        command=command,
        api_version=api_version,
        args=tuple(str(a) for a in spec.get("args") or []),
        env=env,
        install_hint=str(spec.get("installHint") or ""),
        provide_cluster_info=bool(spec.get("provideClusterInfo", False)),
        interactive_mode=str(spec.get("interactiveMode") or "IfAvailable"),
    )


def from_merged(config: MergedConfig, context: str | None = None) -> Credentials:
    where = ", ".join(str(s) for s in config.sources)
    name = context or config.current_context
    if not name:
        raise CredentialsError(
            f"{where}: no current-context", "kubectl config use-context <name>, or pass --context"
        )
    ctx, _ = config.named("contexts", name)
    cluster, cluster_base = config.named("clusters", str(ctx.get("cluster")))
    user, user_base = config.named("users", str(ctx.get("user"))) if ctx.get("user") else ({}, Path("."))
    if not cluster.get("server"):
        raise CredentialsError(f"{where}: cluster {ctx.get('cluster')!r} has no server", NO_CREDENTIALS_FIX)
    if "auth-provider" in user:
        raise CredentialsError(
            f"{where}: user {ctx.get('user')!r} uses the removed auth-provider mechanism",
            "regenerate the kubeconfig with your cloud CLI (it writes an exec plugin instead)",
        )
    token_file = str(_resolve(str(user["tokenFile"]), user_base)) if user.get("tokenFile") else None
    plugin = exec_plugin(user["exec"], user_base) if isinstance(user.get("exec"), dict) else None
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        namespace=str(ctx.get("namespace") or "default"),
        context=str(name),
        token=str(user["token"]) if user.get("token") else None,
        token_file=token_file,
        exec_plugin=plugin,
        ca_data=_b64(cluster.get("certificate-authority-data"))
        or _read(cluster.get("certificate-authority"), cluster_base),
        cert_data=_b64(user.get("client-certificate-data"))
        or _read(user.get("client-certificate"), user_base),
        key_data=_b64(user.get("client-key-data")) or _read(user.get("client-key"), user_base),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=str(cluster["tls-server-name"]) if cluster.get("tls-server-name") else None,
    )


def from_kubeconfig(path: Path, context: str | None = None) -> Credentials:
    config = MergedConfig()
    config.add(path)
    return from_merged(config, context)


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
        token_file=str(token_file),  # the kubelet rotates it: re-read on 401
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
    listed = [Path(e).expanduser() for e in (env.get("KUBECONFIG") or "").split(os.pathsep) if e]
    existing = [p for p in listed if p.is_file()]
    if existing:
        merged = MergedConfig()
        for path in existing:
            merged.add(path)
        return from_merged(merged, context)
    default = (home or Path.home()) / ".kube" / "config"
    if default.is_file():
        return from_kubeconfig(default, context)
    creds = in_cluster(sa_dir, env)
    if creds is not None:
        return creds
    raise CredentialsError(
        "no Kubernetes credentials: no kubeconfig found and not running in a pod", NO_CREDENTIALS_FIX
    )
