"""`kubellm apply / status / delete`: deploy a spec with server-side apply, see how it runs, remove it."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import KubellmError, UsageError

if TYPE_CHECKING:
    from kubellm.cluster.apply import Action
    from kubellm.cluster.client import KubeClient
    from kubellm.cluster.status import Progress

APPLY_HELP = """Render the spec, lint it, and server-side apply it (field manager 'kubellm') as an ApplySet.

Lint errors stop the apply unless --force. Before anything is written, a missing CRD (KEDA,
Prometheus Operator, LeaderWorkerSet) is reported with its fix, and every permission you lack is
listed (SelfSubjectAccessReview) with the Role that grants exactly those. The objects are members of
an ApplySet (KEP-3659; parent Secret NAME-applyset), labelled as `kubectl apply --prune --applyset`
labels them. --prune deletes the members the spec no longer renders (the model-cache PVC is kept).
--no-namespace (or metadata.namespace_only) is for users whose rights end at the namespace: the
Namespace, cluster-scoped objects and the ResourceQuota are left out. --dry-run=server has the API
server check every object (in a stand-in namespace while the target does not exist) and store none.
--wait follows the rollout (prefetch download, scheduling, model load, readiness) and prints the endpoint.

Examples:

  kubellm apply examples/llama-3.1-8b-l4.yaml --dry-run=server

  kubellm apply examples/llama-3.1-8b-l4.yaml --wait --timeout 3600

  kubellm apply my-service.yaml --prune --no-namespace --kubeconfig ~/.kube/team --context gpu-east
"""

STATUS_HELP = """Replicas, readiness, GPU allocation, and queue and KV-cache use of each engine that answers.

Example:

  kubellm status examples/llama-3.1-8b-l4.yaml --json
"""

DELETE_HELP = """Delete the service's objects, newest kinds first: the members of its ApplySet, listed by the kinds it records.

The model-cache PersistentVolumeClaim and the Namespace are kept; --purge deletes the PVC too.
A service applied before ApplySets is found by its kubellm labels among the kinds the spec renders.

Example:

  kubellm delete examples/llama-3.1-8b-l4.yaml --purge
"""


class DryRun(StrEnum):
    none = "none"
    server = "server"
    client = "client"


def _client(kubeconfig: str | None, context: str | None) -> KubeClient:
    from kubellm.cluster.client import KubeClient
    from kubellm.cluster.kubeconfig import load_credentials

    return KubeClient(load_credentials(kubeconfig, context))


def _print_action(action: Action) -> None:
    typer.echo(action.line())


def _print_progress(progress: Progress) -> None:
    typer.echo(f"… {progress.line}")


KUBECONFIG_OPT = typer.Option(
    None, "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)."
)
CONTEXT_OPT = typer.Option(None, "--context", help="Kubeconfig context (default: the current one).")
NO_NAMESPACE_OPT = typer.Option(
    False,
    "--no-namespace",
    help="Namespace-scoped: leave out the Namespace, cluster-scoped objects and the ResourceQuota "
    "(for a RoleBinding to ClusterRole edit); metadata.namespace_only does the same.",
)


def register(app: typer.Typer) -> None:
    @app.command("apply", help=APPLY_HELP)
    def apply_cmd(
        specs: list[Path] = typer.Argument(
            ...,
            help="LLMService spec files; several apply together (one gateway and one GPU quota per namespace).",
        ),
        dry_run: DryRun = typer.Option(
            DryRun.none,
            "--dry-run",
            help="server: the API server validates without storing; client: no cluster at all.",
        ),
        prune: bool = typer.Option(
            False, "--prune", help="Delete this service's objects the spec no longer renders."
        ),
        wait: bool = typer.Option(False, "--wait", help="Follow the rollout until every replica is ready."),
        timeout_s: float = typer.Option(
            1800.0, "--timeout", help="Seconds --wait waits (big models need more)."
        ),
        force: bool = typer.Option(False, "--force", help="Apply even when lint finds errors."),
        force_conflicts: bool = typer.Option(
            False, "--force-conflicts", help="Take over fields another manager (kubectl, Helm) owns."
        ),
        no_namespace: bool = NO_NAMESPACE_OPT,
        kubeconfig: str | None = KUBECONFIG_OPT,
        context: str | None = CONTEXT_OPT,
        as_json: bool = typer.Option(False, "--json", help="Print the actions as JSON."),
    ) -> None:
        from kubellm.cluster.apply import apply_objects
        from kubellm.cluster.applyset import parent_for
        from kubellm.cluster.manifests import build_manifests, hints_for
        from kubellm.cluster.rollout import endpoint, wait_for_rollout
        from kubellm.cluster.selection import prepare, ref_of, scope

        if len(specs) > 1:
            if wait:
                raise UsageError(
                    "--wait with several specs",
                    "apply them together, then `kubellm apply SPEC --wait` per service",
                )
            _apply_group(
                specs, dry_run, prune, force, force_conflicts, no_namespace, kubeconfig, context, as_json
            )
            return
        manifests = build_manifests(specs[0])
        if manifests.lint_errors and not force:
            raise KubellmError(
                f"lint found {len(manifests.lint_errors)} error(s) in the rendered manifests:\n  "
                + "\n  ".join(manifests.lint_errors),
                "fix the spec (kubellm lint explains each rule), or pass --force to apply anyway",
            )
        namespace_only = no_namespace or manifests.spec.metadata.namespace_only
        if dry_run == DryRun.client:
            parent = parent_for(manifests.name, manifests.namespace)
            objects, skipped = scope(prepare(manifests.objects, manifests.name, parent), namespace_only)
            if as_json:
                typer.echo(
                    json.dumps({"dry_run": "client", "objects": [ref_of(o) for o in objects]}, indent=2)
                )
            else:
                typer.echo("client dry run: nothing is sent to a cluster")
                for action in skipped:
                    typer.echo(action.line())
                for obj in objects:
                    typer.echo(f"{ref_of(obj)} would be applied (client dry run)")
            return
        if wait and dry_run == DryRun.server:
            raise UsageError(
                "--wait with --dry-run=server: nothing is rolled out", "drop one of the two flags"
            )
        quiet = as_json
        if dry_run == DryRun.server and not quiet:
            typer.echo("server dry run: the API server checks every object and stores none")
        with _client(kubeconfig, context) as client:
            actions = apply_objects(
                client,
                manifests.objects,
                manifests.name,
                namespace=manifests.namespace,
                dry_run=dry_run == DryRun.server,
                prune=prune,
                force_conflicts=force_conflicts,
                namespace_only=namespace_only,
                on_action=None if quiet else _print_action,
            )
            url = endpoint(
                manifests.objects, manifests.name, manifests.namespace, manifests.spec.gateway.host
            )
            ready = None
            if wait:
                progress = wait_for_rollout(
                    client, hints_for(manifests), timeout_s, on_progress=None if quiet else _print_progress
                )
                ready = progress.line
        if as_json:
            out: dict[str, Any] = {
                "dry_run": "server" if dry_run == DryRun.server else None,
                "actions": [a.to_json_dict() for a in actions],
                "endpoint": url,
            }
            if ready is not None:
                out["ready"] = ready
            typer.echo(json.dumps(out, indent=2))
        elif wait and url:
            typer.echo(f"ready: {url}")
        for warning in manifests.lint_warnings if not quiet else []:
            typer.echo(f"lint warning: {warning}", err=True)

    @app.command("status", help=STATUS_HELP)
    def status_cmd(
        spec: Path = typer.Argument(..., help="LLMService spec file."),
        kubeconfig: str | None = KUBECONFIG_OPT,
        context: str | None = CONTEXT_OPT,
        as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
    ) -> None:
        from kubellm.cluster.live import engine_metrics
        from kubellm.cluster.manifests import build_manifests, hints_for
        from kubellm.cluster.rollout import endpoint, service_snapshot
        from kubellm.cluster.status import service_status

        manifests = build_manifests(spec, lint=False)
        hints = hints_for(manifests)
        with _client(kubeconfig, context) as client:
            snap = service_snapshot(client, hints, logs=False)
            service_pods = [
                p
                for p in snap.pods
                if hints.in_scope(p) and p["metadata"].get("namespace") == hints.namespace
            ]
            snap.pods = service_pods
            metrics = engine_metrics(client, [p for p in service_pods if _is_engine(p)])
        url = endpoint(manifests.objects, manifests.name, manifests.namespace, manifests.spec.gateway.host)
        status = service_status(snap, manifests.name, manifests.namespace, metrics, url)
        if as_json:
            typer.echo(json.dumps(status, indent=2))
            return
        _print_status(status)

    @app.command("delete", help=DELETE_HELP)
    def delete_cmd(
        spec: Path = typer.Argument(..., help="LLMService spec file."),
        purge: bool = typer.Option(
            False, "--purge", help="Also delete the model-cache PVC (weights are downloaded again)."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Say what would be deleted; the server checks, deletes nothing."
        ),
        no_namespace: bool = NO_NAMESPACE_OPT,
        kubeconfig: str | None = KUBECONFIG_OPT,
        context: str | None = CONTEXT_OPT,
        as_json: bool = typer.Option(False, "--json", help="Print the actions as JSON."),
    ) -> None:
        from kubellm.cluster.apply import delete_service
        from kubellm.cluster.manifests import build_manifests

        manifests = build_manifests(spec, lint=False)
        with _client(kubeconfig, context) as client:
            actions = delete_service(
                client,
                manifests.objects,
                manifests.namespace,
                manifests.name,
                purge=purge,
                dry_run=dry_run,
                namespace_only=no_namespace or manifests.spec.metadata.namespace_only,
                on_action=None if as_json else _print_action,
            )
        if as_json:
            typer.echo(json.dumps({"actions": [a.to_json_dict() for a in actions]}, indent=2))
        elif not actions:
            typer.echo(f"nothing of {manifests.name} found in namespace {manifests.namespace}")


def _apply_group(
    specs: list[Path], dry_run: DryRun, prune: bool, force: bool, force_conflicts: bool, no_namespace: bool,
    kubeconfig: str | None, context: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Several specs: rendered together, each owner (a service, or a namespace's shared objects) applied as
    its own ApplySet, the namespace's shared objects first."""
    from kubellm.cluster.apply import apply_objects
    from kubellm.cluster.manifests import build_group
    from kubellm.cluster.rollout import endpoint
    from kubellm.cluster.selection import ref_of

    group = build_group(specs)
    errors = group[0].lint_errors
    if errors and not force:
        raise KubellmError(
            f"lint found {len(errors)} error(s) in the rendered manifests:\n  " + "\n  ".join(errors),
            "fix the specs (kubellm lint explains each rule), or pass --force to apply anyway",
        )
    if dry_run == DryRun.client:
        refs = [ref_of(o) for m in group for o in m.objects]
        typer.echo(json.dumps({"dry_run": "client", "objects": refs}, indent=2) if as_json else
                   "\n".join(f"{r} would be applied (client dry run)" for r in refs))  # fmt: skip
        return
    actions = []
    with _client(kubeconfig, context) as client:
        for m in group:
            actions += apply_objects(
                client, m.objects, m.name, namespace=m.namespace, dry_run=dry_run == DryRun.server, prune=prune,
                force_conflicts=force_conflicts, namespace_only=no_namespace or m.spec.metadata.namespace_only,
                on_action=None if as_json else _print_action,
            )  # fmt: skip

    def reached(m: Any) -> bool:  # a gateway of its own (or the namespace's), or an engine without one
        gateway = any(
            o["kind"] == "Service" and o["metadata"]["name"] == f"{m.name}-gateway" for o in m.objects
        )
        return gateway or not m.spec.gateway.enabled

    urls = sorted(
        {
            u
            for m in group
            if reached(m) and (u := endpoint(m.objects, m.name, m.namespace, m.spec.gateway.host))
        }
    )
    if as_json:
        typer.echo(json.dumps({"actions": [a.to_json_dict() for a in actions], "endpoints": urls}, indent=2))
    else:
        for url in urls:
            typer.echo(f"endpoint: {url}")
        for warning in group[0].lint_warnings:
            typer.echo(f"lint warning: {warning}", err=True)


def _is_engine(pod: dict[str, Any]) -> bool:
    labels = pod.get("metadata", {}).get("labels") or {}
    return labels.get("app.kubernetes.io/component") == "engine"


def _print_status(status: dict[str, Any]) -> None:
    typer.echo(f"{status['service']} in namespace {status['namespace']}")
    for w in status["workloads"]:
        typer.echo(f"  {w['kind']} {w['name']}: {w['ready']}/{w['desired']} ready, {w['updated']} updated")
    for j in status["jobs"]:
        state = "done" if j["succeeded"] else ("failed" if j["failed"] and not j["active"] else "running")
        typer.echo(f"  Job {j['name']}: {state}")
    for p in status["pods"]:
        gpus = ", ".join(f"{v} {k}" for k, v in p["gpus"].items()) or "no GPU"
        reason = f" ({p['reason']})" if p["reason"] else ""
        ready = "ready" if p["ready"] else "not ready"
        typer.echo(
            f"  pod {p['name']}: {p['phase']}{reason}, {ready}, {p['restarts']} restarts, {gpus}, node {p['node'] or '-'}"
        )
    used = status["gpus"]["used_by_service"]
    total = status["gpus"]["cluster_allocatable"]
    for resource in sorted(set(used) | set(total or {})):
        of = f"of {total.get(resource, 0)} allocatable" if total is not None else "(cluster total unknown)"
        typer.echo(f"  GPUs {resource}: {used.get(resource, 0)} used by this service {of}")
    for name, load in status["engines"].items():
        kv = load["kv_cache_usage"]
        typer.echo(
            f"  engine {name}: {load['waiting'] if load['waiting'] is not None else '?'} waiting, "
            f"{load['running'] if load['running'] is not None else '?'} running, "
            f"KV cache {f'{kv:.0%}' if kv is not None else '?'}"
        )
    if not status["engines"]:
        typer.echo("  engine metrics: not reachable (no ready engine pod answered on /metrics)")
    if status["endpoint"]:
        typer.echo(f"  endpoint: {status['endpoint']}")
    for line in status.get("could_not_read") or []:
        typer.echo(f"  {line}")
    if status["gpus"]["cluster_allocatable"] is None:
        typer.echo("  cluster GPU totals unknown: nodes could not be listed (a namespace-scoped user cannot)")
