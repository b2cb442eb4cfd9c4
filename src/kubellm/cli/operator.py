"""`kubellm operator`: reconcile LLMService resources in the cluster (what the operator Deployment runs)."""

from __future__ import annotations

import os
import socket

import typer

OPERATOR_HELP = """Run the LLMService operator: each LLMService in the cluster is planned, rendered and
server-side applied (field manager kubellm-operator, owned by the resource, pruned as the spec
changes), re-applied every --resync seconds against drift, and its status explains itself: the plan's
summary and the conditions Planned, Scheduled, ModelReady, EngineReady, Ready and Degraded, each
carrying the doctor's finding and fix when it is not in its good state.

Replicas elect a leader with a Lease; only the leader reconciles. The CRD comes from
`kubellm schema --crd`; everything to install it, from `kubellm render operator`.

Examples:

  kubellm operator                                  in the cluster (service account, all namespaces)

  kubellm operator --kubeconfig ~/.kube/config --namespace llm --no-leader-election
"""


def operator_command(
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="Kubeconfig file (default: in-cluster)."
    ),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context."),
    namespace: list[str] = typer.Option(
        [], "--namespace", "-n", help="Watch only this namespace (repeatable); default: every namespace."
    ),
    resync_s: float = typer.Option(
        30.0, "--resync", min=1.0, help="Seconds between re-applies and status refreshes of each service."
    ),
    leader_election: bool = typer.Option(
        True, "--leader-election/--no-leader-election", help="Elect one active replica with a Lease."
    ),
    lease_namespace: str | None = typer.Option(
        None,
        "--lease-namespace",
        help="Namespace of the Lease (default: $POD_NAMESPACE, else kubellm-system).",
    ),
    identity: str | None = typer.Option(
        None, "--identity", help="This replica's name in the Lease (default: $POD_NAME, else the host name)."
    ),
    health_port: int = typer.Option(8081, "--health-port", help="Port of /healthz and /readyz (0: none)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every handler run."),
) -> None:
    import asyncio
    import logging

    from kubellm.cluster.kubeconfig import load_credentials
    from kubellm.operator.runner import OperatorOptions, serve

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    credentials = load_credentials(kubeconfig, context)
    options = OperatorOptions(
        identity=identity or os.environ.get("POD_NAME") or socket.gethostname(),
        lease_namespace=lease_namespace or os.environ.get("POD_NAMESPACE") or "kubellm-system",
        namespaces=list(namespace),
        resync_s=resync_s,
        leader_election=leader_election,
        health_port=health_port or None,
    )
    asyncio.run(serve(credentials, options))


def register(app: typer.Typer) -> None:
    app.command("operator", help=OPERATOR_HELP)(operator_command)
