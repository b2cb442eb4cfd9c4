"""`kubellm gateway`: run the OpenAI-compatible gateway from a config file or a few flags."""

from __future__ import annotations

import typer

from kubellm.errors import UsageError

_HELP = """Serve the OpenAI API in front of engine replicas: API keys and limits, LLM-aware routing,
retries, streaming pass-through, scale-from-zero, Prometheus metrics.

Examples:

  kubellm gateway --config gateway.yaml

  kubellm gateway --model llama-8b --backend http://127.0.0.1:8000 --backend http://127.0.0.1:8001

  kubellm gateway --model llama-8b --backend http://10.0.0.5:8000 --routing power-of-two --api-keys keys.txt

Without --api-keys the gateway is open and binds 127.0.0.1 unless --host says otherwise.
"""


def register(app: typer.Typer) -> None:
    """Add the `gateway` command to the root app."""
    app.command("gateway", help=_HELP)(gateway)


def gateway(
    config: str | None = typer.Option(
        None, "--config", "-c", help="Gateway config YAML (kind: GatewayConfig)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Served model name (quick start without --config)."
    ),
    backend: list[str] = typer.Option([], "--backend", help="Engine base URL; repeat for more replicas."),
    routing: str = typer.Option(
        "least-outstanding",
        "--routing",
        help="round-robin | least-outstanding | power-of-two | prefix-affinity | session-affinity.",
    ),
    api_keys: str | None = typer.Option(
        None, "--api-keys", help="File of 'id:key' lines; unset = open gateway."
    ),
    max_body_bytes: int | None = typer.Option(
        None, "--max-body-bytes", help="Largest request body accepted."
    ),
    host: str | None = typer.Option(
        None, "--host", help="Address to bind (default 127.0.0.1, or the config's)."
    ),
    port: int | None = typer.Option(None, "--port", help="Port to bind (default 8080, or the config's)."),
    tls_cert: str | None = typer.Option(None, "--tls-cert", help="PEM certificate chain: serve HTTPS."),
    tls_key: str | None = typer.Option(None, "--tls-key", help="PEM private key for --tls-cert."),
    log_level: str | None = typer.Option(None, "--log-level", help="debug | info | warning | error."),
    no_audit: bool = typer.Option(False, "--no-audit", help="Do not write the per-request audit lines."),
    upstream_client: str | None = typer.Option(
        None, "--upstream-client", help="httptools (fast, default) | aiohttp (the reference client)."
    ),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the effective config as YAML and exit."
    ),
) -> None:
    """Run the gateway until SIGTERM/Ctrl-C, then drain in-flight requests."""
    from kubellm.gateway.config import quick_config
    from kubellm.spec.gateway import GatewayConfig
    from kubellm.spec.loader import load_gateway_config

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together", "give both to serve HTTPS, or neither")
    cfg: GatewayConfig
    if config is not None:
        if model is not None or backend:
            raise UsageError(
                "--config cannot be combined with --model/--backend", "put the pools in the config file"
            )
        cfg = load_gateway_config(config)
        listen = cfg.listen.model_copy(
            update={
                k: v
                for k, v in {"host": host, "port": port, "tls_cert": tls_cert, "tls_key": tls_key}.items()
                if v is not None
            }
        )
        cfg = cfg.model_copy(update={"listen": listen})
        if api_keys is not None:
            cfg.admission.api_keys_file = api_keys
        if max_body_bytes is not None:
            cfg.admission.max_body_bytes = max_body_bytes
    else:
        if model is None:
            raise UsageError(
                "no pools: give --config FILE, or --model NAME with --backend URL",
                "e.g. kubellm gateway --model llama-8b --backend http://127.0.0.1:8000",
            )
        cfg = quick_config(
            model,
            list(backend),
            routing=routing,
            api_keys_file=api_keys,
            max_body_bytes=max_body_bytes,
            host=host or "127.0.0.1",
            port=8080 if port is None else port,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
    if log_level is not None:
        if log_level not in ("debug", "info", "warning", "error"):
            raise UsageError(f"unknown --log-level {log_level!r}", "use debug, info, warning or error")
        cfg.log_level = log_level  # type: ignore[assignment]
    if no_audit:
        cfg.audit_log = False
    if upstream_client is not None:
        if upstream_client not in ("httptools", "aiohttp"):
            raise UsageError(f"unknown --upstream-client {upstream_client!r}", "use httptools or aiohttp")
        cfg.upstream_client = upstream_client  # type: ignore[assignment]
    if print_config:
        import yaml

        typer.echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), nl=False)
        return

    from kubellm.gateway import run_gateway
    from kubellm.gateway.logs import configure_logging

    configure_logging(cfg.log_level, log_prompts=cfg.log_prompts)
    left = run_gateway(cfg)
    if left:  # (the log says how many requests the drain deadline cut)
        raise typer.Exit(1)
