"""`kubellm doctor`: what is wrong with the cluster or the service, and what to change."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.cluster.findings import Finding

DOCTOR_HELP = """Diagnose GPU readiness and a service's pods: Pending, OOMKilled, crash loops, probes, performance.

Live (through your kubeconfig), from a dump made with kubectl (--from-dump DIR; docs/cluster.md gives
the commands), or on one engine log (--logs FILE). Every finding says the evidence, the cause, the
fix and the spec field that changes it. Exits 1 when a finding is an error.

Examples:

  kubellm doctor --namespace llm --service llama-8b

  kubellm doctor examples/llama-3.1-8b-l4.yaml --prometheus http://localhost:9090

  kubellm doctor --from-dump ./dump --namespace llm --json

  kubectl logs -n llm deploy/llama-8b --previous > engine.log && kubellm doctor --logs engine.log

  kubectl describe pod -n llm llama-8b-0 | kubellm doctor --logs -

  kubellm doctor examples/llama-3.1-8b-l4.yaml --logs engine.log   # fixes computed with the planner
"""
_TTY = sys.stdout.isatty()
_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def _style(text: str, severity: str) -> str:
    return typer.style(text, fg=_COLOURS[severity], bold=True) if _TTY else text


def _print(findings: list[Finding], warnings: list[str]) -> None:
    for warning in warnings:
        typer.echo(f"note: {warning}", err=True)
    if not findings:
        typer.echo("no problems found")
        return
    for f in findings:
        typer.echo(f"{_style(f.severity, f.severity)} {f.id} [{f.category}] {f.object}")
        typer.echo(f"  evidence: {f.evidence}")
        typer.echo(f"  cause:    {f.cause}")
        typer.echo(f"  fix:      {f.fix}" + (f"  (spec: {f.spec_field})" if f.spec_field else ""))
    errors = sum(f.severity == "error" for f in findings)
    typer.echo(f"{len(findings)} finding(s), {errors} error(s)")


def register(app: typer.Typer) -> None:
    @app.command("doctor", help=DOCTOR_HELP)
    def doctor_cmd(
        spec: Path | None = typer.Argument(
            None,
            help="LLMService spec: scope and expectations (memory, probes, image); with --logs alone, the log is "
            "read offline and its fixes are computed with the spec's plan.",
        ),
        namespace: str | None = typer.Option(None, "--namespace", "-n", help="Namespace of the service."),
        service: str | None = typer.Option(
            None, "--service", help="Name of the service (its kubellm labels)."
        ),
        prometheus: str | None = typer.Option(
            None, "--prometheus", help="Prometheus URL for DCGM and engine metrics."
        ),
        from_dump: Path | None = typer.Option(
            None, "--from-dump", help="Directory made with the kubectl commands in docs/cluster.md."
        ),
        logs: Path | None = typer.Option(
            None,
            "--logs",
            help="A pasted log or kubectl output (describe, get events, -o yaml|json); '-' reads stdin.",
        ),
        kubeconfig: str | None = typer.Option(None, "--kubeconfig", help="Kubeconfig file (live mode)."),
        context: str | None = typer.Option(None, "--context", help="Kubeconfig context (live mode)."),
        as_json: bool = typer.Option(False, "--json", help='Print {"findings": [...]} as JSON.'),
    ) -> None:
        from dataclasses import replace

        from kubellm.cluster.doctor import diagnose, diagnose_text
        from kubellm.cluster.hints import DoctorHints
        from kubellm.cluster.snapshot import load_dump

        hints = DoctorHints()
        if spec is not None:
            from kubellm.cluster.manifests import build_manifests, hints_for

            hints = hints_for(build_manifests(spec, lint=False))
        hints = replace(hints, namespace=namespace or hints.namespace, service=service or hints.service)
        log_text = None
        if logs is not None:
            try:
                log_text = (
                    # bytes, so a log with invalid UTF-8 (cut mid-character, binary noise) is read, not refused
                    sys.stdin.buffer.read().decode("utf-8", errors="replace")
                    if str(logs) == "-"
                    else logs.read_text(encoding="utf-8", errors="replace")
                )
            except OSError as exc:
                raise UsageError(
                    f"--logs {logs}: {exc.strerror}", "give the path of a saved engine log"
                ) from None
        warnings: list[str] = []
        if log_text is not None and from_dump is None and not (namespace or service):
            # A pasted log, with the spec's plan when one is given (its fixes carry the planner's figures).
            findings = diagnose_text(
                log_text, logs.name if logs and str(logs) != "-" else "stdin", hints.plan
            )
        else:
            if from_dump is not None:
                snap = load_dump(from_dump)
            else:
                from kubellm.cluster.client import KubeClient
                from kubellm.cluster.kubeconfig import load_credentials
                from kubellm.cluster.live import gather, query_prometheus

                with KubeClient(load_credentials(kubeconfig, context)) as client:
                    snap = gather(client, hints)
                if prometheus:
                    snap.metrics += query_prometheus(prometheus)
            if log_text is not None and logs is not None:
                snap.logs[f"*/{logs.stem}/"] = log_text
            warnings = list(snap.warnings)
            if (
                hints.service
                and (snap.pods or from_dump is None)
                and not any(hints.in_scope(p) for p in snap.pods)
            ):
                where = f" in namespace {hints.namespace}" if hints.namespace else ""
                warnings.append(
                    f"no pods of service {hints.service}{where}: not deployed, or scaled to zero?"
                )
            findings = diagnose(snap, hints)
        if as_json:
            typer.echo(
                json.dumps({"findings": [f.to_json_dict() for f in findings], "notes": warnings}, indent=2)
            )
        else:
            _print(findings, warnings)
        if any(f.severity == "error" for f in findings):
            raise typer.Exit(1)
