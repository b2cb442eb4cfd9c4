"""Installing the operator: `kubellm render operator` and the Helm chart install the same valid, lint-clean
objects, with RBAC that covers exactly what the reconcile does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cluster.fake_apiserver import FakeApiServer
from kubellm.cli.app import app
from kubellm.cluster.client import KubeClient
from kubellm.cluster.kubeconfig import Credentials
from kubellm.operator.chart import chart_files
from kubellm.operator.install import CHILD_RESOURCES, NAME, InstallOptions, cluster_rules, install_objects
from kubellm.operator.observe import observe
from kubellm.operator.reconcile import desired
from kubellm.operator.resource import service_of
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects
from kubellm.spec import load_spec

from .objects import resource

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubellm"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if "cluster" not in p.name)
PROVIDER_EXAMPLES = sorted((ROOT / "examples" / "providers").glob("*.yaml"))


def _lint(objects: list[dict[str, Any]]) -> list[str]:
    from kubellm.cluster.manifests import lint_service

    errors, warnings = lint_service(objects)
    return errors + warnings


@pytest.mark.parametrize("version", [OLDEST_VERSION, newest_version()])
def test_the_install_validates_against_the_kubernetes_schemas(version: str) -> None:
    assert validate_objects(install_objects(), version) == []


def test_the_install_lints_clean() -> None:
    assert _lint(install_objects()) == []


def test_render_operator_prints_the_install() -> None:
    result = CliRunner().invoke(app, ["render", "operator", "--namespace", "ops"])
    assert result.exit_code == 0, result.output
    objects = [d for d in yaml.safe_load_all(result.output) if d]
    assert objects == install_objects(InstallOptions(namespace="ops"))
    kinds = [o["kind"] for o in objects]
    for kind in ("CustomResourceDefinition", "ServiceAccount", "ClusterRole", "Role", "Deployment",
                 "NetworkPolicy", "PodDisruptionBudget"):  # fmt: skip
        assert kind in kinds


def _allowed(group: str, resource_name: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource_name in rule["resources"] and verb in rule["verbs"]
        for rule in cluster_rules()
    )


def _spec_body(path: Path, **override: Any) -> dict[str, Any]:
    spec = load_spec(path).model_dump(mode="json", exclude_defaults=True)
    spec.update(override)
    return resource(
        spec["metadata"]["name"],
        **{k: v for k, v in spec.items() if k not in ("apiVersion", "kind", "metadata")},
    )


def _inference_extension(path: Path) -> dict[str, Any]:
    spec = load_spec(path).model_dump(mode="json", exclude_defaults=True)
    gateway = {**spec.get("gateway", {}), "kind": "inference-extension",
               "gateway_ref": "gateway-system/inference-gateway"}  # fmt: skip
    return _spec_body(path, gateway=gateway)


# Every example (the provider variants too) and a gateway.kind: inference-extension service, as LLMServices.
SPECS = {
    **{p.stem: (lambda p=p: _spec_body(p)) for p in EXAMPLES + PROVIDER_EXAMPLES},
    "inference-extension": lambda: _inference_extension(ROOT / "examples" / "llama-3.1-8b-l4.yaml"),
}


def _everything_rendered(body: dict[str, Any]) -> list[dict[str, Any]]:
    """All that render emits for the resource's spec, cluster-scoped objects included."""
    from kubellm.render import RenderOptions, plan_service, render

    plan = plan_service(service_of(body))
    assert plan.fits
    return render(plan, options=RenderOptions(namespace_object=False))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_cluster_role_covers_every_child_the_examples_render(name: str) -> None:
    """Each child is the operator's to write, or the spec is refused with a fix (never dropped silently)."""
    body = SPECS[name]()
    want = desired(body)
    cluster_scoped = [o for o in _everything_rendered(body) if not o["metadata"].get("namespace")]
    if cluster_scoped:
        assert not want.ok and want.planned.reason == "NeedsClusterScope" and want.objects == []
        for obj in cluster_scoped:
            assert f"{obj['kind']}/{obj['metadata']['name']}" in want.planned.message
            assert not _allowed("", obj["kind"].lower() + "s", "create")
        assert want.planned.fix and "kubellm apply" in want.planned.fix
        return
    assert want.ok, want.planned.message
    for obj in want.objects:
        group = obj["apiVersion"].rpartition("/")[0]
        assert obj["kind"] in CHILD_RESOURCES, f"no RBAC for {obj['kind']}"
        assert CHILD_RESOURCES[obj["kind"]][0] == group
        for verb in ("get", "list", "create", "patch", "delete"):
            assert _allowed(group, CHILD_RESOURCES[obj["kind"]][1], verb)


def test_the_children_cover_the_kinds_the_operator_is_asked_for() -> None:
    """The spec set above does reach the kinds this RBAC was extended for (else the test proves nothing)."""
    kinds = {o["kind"] for make in SPECS.values() for o in desired(make()).objects}
    assert {"Role", "RoleBinding", "InferencePool", "TriggerAuthentication"} <= kinds
    refused = [n for n, make in SPECS.items() if desired(make()).planned.reason == "NeedsClusterScope"]
    assert refused == ["eks-qwen-7b-tgi-s3"]  # Mountpoint for S3: a static PersistentVolume


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_operator_holds_every_permission_of_the_roles_it_writes(name: str) -> None:
    """RBAC's escalation check: creating a Role (and binding it) needs every permission in it."""
    for role in (o for o in desired(SPECS[name]()).objects if o["kind"] == "Role"):
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource_name in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert _allowed(group, resource_name, verb), (role["metadata"]["name"], rule)


def test_the_cluster_role_grants_nothing_wild_or_escalating() -> None:
    for rule in cluster_rules():
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])
        assert not {"clusterroles", "clusterrolebindings"} & set(rule["resources"])
        assert not {"persistentvolumes", "namespaces", "nodes"} & set(rule["resources"]) or set(
            rule["verbs"]
        ) <= {"get", "list", "watch"}
    # Roles and RoleBindings, namespaced, only for the endpoint picker's Role; both only ever with the
    # permissions the operator holds itself (no escalate, no bind)
    assert _allowed("rbac.authorization.k8s.io", "roles", "create")
    assert not _allowed("rbac.authorization.k8s.io", "roles", "escalate")
    assert not _allowed("rbac.authorization.k8s.io", "rolebindings", "bind")
    assert not _allowed("", "resourcequotas", "patch")  # the namespace admin's, never the operator's
    assert not _allowed("coordination.k8s.io", "leases", "update")  # only in its own namespace (a Role)


def test_the_operator_runs_as_restricted_with_a_probe_every_replica_answers() -> None:
    deployment = next(o for o in install_objects() if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["kubellm", "operator"] and pod["serviceAccountName"] == NAME
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    # a standby replica is healthy and ready: /readyz (leading or not) is never what a probe reads
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["replicas"] == 2


# -- the Helm chart -------------------------------------------------------------------------------------------


def test_the_chart_in_the_repository_is_the_generated_one() -> None:
    files = chart_files()
    if os.environ.get("KUBELLM_UPDATE_GOLDEN"):
        for rel, text in files.items():
            (CHART / rel).parent.mkdir(parents=True, exist_ok=True)
            (CHART / rel).write_text(text)
    for rel, text in files.items():
        assert (CHART / rel).read_text() == text, (
            f"charts/kubellm/{rel} is stale: run with KUBELLM_UPDATE_GOLDEN=1"
        )


def _helm_render(
    values: dict[str, Any] | None = None, namespace: str = "kubellm-system"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk (Helm's library) is not installed")
    chart = helm.Chart.load(str(CHART))
    if values is not None:
        chart.validate_schema(values)
    rendered = chart.render(values, name="kubellm", namespace=namespace)
    templates = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    crds = [d for item in chart.crds for d in yaml.safe_load_all(item["data"]) if d]
    return crds, templates


def test_helm_renders_the_chart_to_exactly_what_render_operator_installs() -> None:
    crds, templates = _helm_render(namespace="ops")
    want = install_objects(InstallOptions(namespace="ops", namespace_object=False))
    assert want[0]["kind"] == "CustomResourceDefinition"
    assert crds == want[:1] and templates == want[1:]
    assert validate_objects(crds + templates, OLDEST_VERSION) == []
    assert _lint(crds + templates) == []


def test_chart_values_reach_the_deployment() -> None:
    _, templates = _helm_render(
        {
            "image": {"repository": "registry.example/kubellm", "tag": "9.9.9"},
            "replicas": 3,
            "resyncSeconds": 5,
        }
    )
    deployment = next(o for o in templates if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/kubellm:9.9.9"
    assert deployment["spec"]["replicas"] == 3 and "--resync=5" in container["args"]


def test_the_values_schema_refuses_an_unknown_value() -> None:
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk (Helm's library) is not installed")
    with pytest.raises(helm.HelmError):
        _helm_render({"replica": 3})


def test_the_cluster_role_allows_every_read_the_status_makes(api: FakeApiServer) -> None:
    """observe() (the doctor's live gathering) against the API double: each request it sends is granted."""
    api.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "qwen-0", "namespace": "llm",
             "labels": {"app.kubernetes.io/instance": "qwen", "app.kubernetes.io/component": "engine"}},
             "status": {"containerStatuses": [{"name": "engine", "ready": False, "restartCount": 2}]}})  # fmt: skip
    api.served["storage.k8s.io/v1"] = [("StorageClass", "storageclasses", False)]  # as every real server
    api.served["leaderworkerset.x-k8s.io/v1"] = [("LeaderWorkerSet", "leaderworkersets", True)]
    api.requests.clear()
    with KubeClient(Credentials(server=api.url, token=api.token, context="fake"), timeout_s=5) as client:
        observe(client, "llm", "qwen")
    asked = set()
    for request in api.requests:
        parts = request.path.strip("/").split("/")
        if len(parts) <= (2 if parts[0] == "api" else 3):
            continue  # discovery: every authenticated user may read it
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if rest[:1] == ["namespaces"] and len(rest) > 2:
            rest = rest[2:]
        plural, named = rest[0], len(rest) > 1
        resource_name = f"{plural}/{rest[2]}" if len(rest) > 2 else plural
        verb = "watch" if request.query.get("watch") == "true" else ("get" if named else "list")
        asked.add((group, resource_name, verb))
    assert {("storage.k8s.io", "storageclasses", "list"), ("", "persistentvolumeclaims", "list"),
            ("", "pods/log", "get"), ("", "nodes", "list")} <= asked  # fmt: skip
    assert [a for a in asked if not _allowed(*a)] == []
