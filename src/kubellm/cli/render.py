"""`kubellm render`: a spec → production manifests (stdout or a directory); `render cluster` → GPU setup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.spec import LLMService

RENDER_HELP = """Render a spec into Kubernetes manifests, validated against the Kubernetes schemas.

Every value comes from the plan: GPUs, memory, /dev/shm, probe budgets, engine arguments. Output is
multi-document YAML on stdout, or with -o a directory with one file per object and a
kustomization.yaml (written all at once: on any error nothing is written). The same spec gives the
same bytes.

  kubellm render SPEC                 manifests on stdout
  kubellm render A.yaml B.yaml        several services: one gateway (a pool per model) and one GPU
                                      quota per namespace
  kubellm render SPEC -o DIR          a directory for `kubectl apply -k DIR`
  kubellm render SPEC --images        every pinned image, one a line (for Trivy/Grype in CI)
  kubellm render cluster CLUSTER      the cluster's GPU setup (GPU Operator, MIG, time-slicing, …);
                                      a GpuCluster file given as SPEC is rendered the same way
  kubellm render operator             the LLMService operator: CRD, RBAC, Deployment, NetworkPolicy,
                                      PDB (the Helm chart in charts/kubellm installs the same)

Examples:

  kubellm render examples/llama-3.1-8b-l4.yaml -o deploy/llama-8b

  kubellm render examples/qwen3-32b-sglang.yaml --k8s-version 1.31 | kubectl apply -f -

  kubellm render examples/gpt-oss-20b-h100.yaml --images | xargs -n1 trivy image

  kubellm render examples/llama-3.1-8b-l4.yaml --provider gke | kubectl apply -f -

  kubellm render examples/llama-3.1-8b-l4.yaml --gateway-image registry.internal/kubellm/kubellm:0.1.0

  kubellm render examples/llama-3.1-8b-l4.yaml examples/llama-3.3-70b-h100-tp2.yaml -o deploy/llm

  kubellm render cluster examples/cluster.yaml -o deploy/cluster

  kubellm render operator --namespace kubellm-system | kubectl apply --server-side -f -
"""


def _validator_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("kubernetes_validate") is not None


def _supported(version: str) -> str:
    from kubellm.render.validation import KNOWN_NEWEST, OLDEST_VERSION, newest_version

    newest = newest_version() if _validator_installed() else KNOWN_NEWEST
    try:
        major, minor = (int(x) for x in version.removeprefix("v").split(".")[:2])
    except ValueError:
        raise UsageError(f"--k8s-version {version!r} is not a version", "write it as 1.29") from None
    low = tuple(int(x) for x in OLDEST_VERSION.split("."))
    high = tuple(int(x) for x in newest.split("."))
    if not low <= (major, minor) <= high:
        raise UsageError(
            f"--k8s-version {version}: kubellm renders for Kubernetes {OLDEST_VERSION} to {newest}",
            f"give a version from {OLDEST_VERSION} to {newest}",
        )
    return f"{major}.{minor}"


def load_with_provider(spec_path: Path, provider: str | None) -> LLMService:
    """A spec file, with placement.provider replaced when --provider is given."""
    from kubellm.spec import LLMService, load_spec, validate_as

    spec = load_spec(spec_path)
    if provider is None:
        return spec
    data = spec.model_dump(mode="json", exclude_unset=True)
    data.setdefault("placement", {})["provider"] = provider
    return validate_as(LLMService, data, f"{spec_path} with --provider {provider}")


def _service_objects(
    spec_paths: list[Path],
    version: str,
    namespace_object: bool,
    provider: str | None = None,
    gateway_image: str | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One spec renders alone; several render together (one gateway and one quota per namespace)."""
    from kubellm.render import RenderOptions, plan_service, render, render_services

    plans = [plan_service(load_with_provider(path, provider)) for path in spec_paths]
    options = RenderOptions(
        namespace_object=namespace_object, k8s_version=version, gateway_image=gateway_image
    )
    objects = render(plans[0], options=options) if len(plans) == 1 else render_services(plans, options)
    warnings = [f"{p.spec.metadata.name}: {w}" if len(plans) > 1 else w for p in plans for w in p.warnings]
    return objects, warnings


def _cluster_objects(spec_path: Path) -> list[dict[str, Any]]:
    from kubellm.render.cluster import render_cluster
    from kubellm.spec.cluster import load_cluster_spec

    return render_cluster(load_cluster_spec(spec_path))


def _kind(path: Path) -> str | None:
    from kubellm.spec import read_yaml

    data = read_yaml(path)
    return data.get("kind") if isinstance(data, dict) else None


def _validate(objects: list[dict[str, Any]], version: str) -> None:
    from kubellm.render.validation import validate_objects

    if not _validator_installed():
        typer.echo(
            "warning: kubernetes-validate is not installed, so the output was not checked against the "
            "Kubernetes schemas (pip install 'kubernetes-validate>=1.29')",
            err=True,
        )
        return

    problems = validate_objects(objects, version)
    if problems:
        listing = "\n  ".join(str(p) for p in problems[:20])
        raise UsageError(
            f"the rendered objects do not validate against Kubernetes {version}:\n  {listing}",
            "this is a kubellm bug when the spec validated: please report it with the spec",
        )


def render_cmd(
    targets: list[str] = typer.Argument(
        ...,
        metavar="SPEC... | cluster CLUSTER_SPEC | operator",
        help="LLMService spec files (several render together: one gateway per namespace), 'cluster' and a "
        "GpuCluster spec, or 'operator'.",
    ),
    out: Path | None = typer.Option(None, "-o", "--output", help="Write one file per object into DIR."),
    k8s_version: str = typer.Option(
        "1.29", "--k8s-version", help="Kubernetes version to validate against (1.29 to the newest known)."
    ),
    images: bool = typer.Option(False, "--images", help="List every container image (pinned), one a line."),
    no_namespace: bool = typer.Option(
        False, "--no-namespace", help="Leave out the Namespace object (the namespace exists already)."
    ),
    provider: str | None = typer.Option(
        None, "--provider", help="Override placement.provider: gke, eks, aks, openshift or generic."
    ),
    gateway_image: str | None = typer.Option(
        None,
        "--gateway-image",
        help="The kubellm gateway image, pinned by tag or digest (a mirror, your own build); "
        "over the spec's gateway.image and the default ghcr.io/kubellm/kubellm:<version>.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty output directory."),
    namespace: str = typer.Option(
        "kubellm-system", "--namespace", "-n", help="With 'operator': the namespace to install it into."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (objects, or images with --images)."),
) -> None:
    from kubellm.render import images as list_images
    from kubellm.render.output import to_yaml, write_dir

    version = _supported(k8s_version)
    if gateway_image is not None:
        from kubellm.spec.base import pinned_image

        try:
            pinned_image(gateway_image, "registry.example.com/kubellm/kubellm:0.1.0")
        except ValueError as exc:
            raise UsageError(f"--gateway-image: {exc}", "give a tag or a digest") from None
    warnings: list[str] = []
    if targets[0] == "cluster":
        if len(targets) != 2:
            raise UsageError(
                "render cluster needs one cluster spec", "kubellm render cluster examples/cluster.yaml"
            )
        objects = _cluster_objects(Path(targets[1]))
    elif targets == ["operator"] and not Path("operator").exists():
        from kubellm.operator.install import InstallOptions, install_objects

        objects = install_objects(InstallOptions(namespace=namespace, namespace_object=not no_namespace))
    elif len(targets) == 1 and _kind(Path(targets[0])) == "GpuCluster":
        objects = _cluster_objects(Path(targets[0]))
    else:
        clusters = [t for t in targets if _kind(Path(t)) == "GpuCluster"]
        if clusters:
            raise UsageError(
                f"{clusters[0]} is a GpuCluster spec among LLMService specs",
                "render it on its own: render cluster FILE",
            )
        objects, warnings = _service_objects(
            [Path(t) for t in targets], version, not no_namespace, provider, gateway_image
        )
    _validate(objects, version)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    if images:
        found = list_images(objects)
        typer.echo(json.dumps(found, indent=2) if as_json else "\n".join(found))
        return
    if out is not None:
        written = write_dir(objects, out, force=force)
        typer.echo(f"wrote {len(written)} files to {out}/ (apply with: kubectl apply -k {out})", err=True)
        return
    typer.echo(json.dumps(objects, indent=2) if as_json else to_yaml(objects), nl=False)


def register(app: typer.Typer) -> None:
    app.command("render", help=RENDER_HELP)(render_cmd)
