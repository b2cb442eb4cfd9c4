"""gateway.kind: inference-extension — an InferencePool, the upstream endpoint picker and an HTTPRoute to the pool."""

from __future__ import annotations

import pytest
import yaml
from render_helpers import find, render_spec, spec_of

from kubellm.render.images import EPP_IMAGE
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects

GIE = {"kind": "inference-extension", "gateway_ref": "gateway-system/inference-gateway"}


def kinds(objects: list[dict[str, object]]) -> list[tuple[str, str]]:
    return [(str(o["kind"]), str(o["metadata"]["name"])) for o in objects]  # type: ignore[index]


def test_pool_picker_and_route_replace_kubellm_gateway() -> None:
    objects = render_spec(spec_of(gateway=GIE))
    names = kinds(objects)
    assert ("InferencePool", "svc") in names and ("HTTPRoute", "svc") in names
    assert {("Deployment", "svc-epp"), ("Service", "svc-epp"), ("ServiceAccount", "svc-epp"), ("Role", "svc-epp"),
            ("RoleBinding", "svc-epp"), ("ConfigMap", "svc-epp"), ("NetworkPolicy", "svc-epp")} <= set(names)  # fmt: skip
    assert not any(name.startswith("svc-gateway") for _, name in names)  # no kubellm gateway at all
    for version in (OLDEST_VERSION, newest_version()):
        assert validate_objects(objects, version) == []  # InferencePool against its stored CRD schema too


def test_pool_selects_what_the_engine_service_selects_on_the_engine_port() -> None:
    objects = render_spec(spec_of(gateway=GIE))
    pool = find(objects, "InferencePool", "svc")["spec"]
    service = find(objects, "Service", "svc-engine")["spec"]
    assert pool["selector"]["matchLabels"] == service["selector"]
    assert pool["targetPorts"] == [{"number": service["ports"][0]["port"]}]
    assert pool["endpointPickerRef"] == {
        "name": "svc-epp",
        "port": {"number": 9002},
        "failureMode": "FailOpen",
    }


def test_the_picker_is_upstreams_pinned_and_hardened() -> None:
    objects = render_spec(spec_of(gateway=GIE))
    deployment = find(objects, "Deployment", "svc-epp")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == EPP_IMAGE and EPP_IMAGE.endswith(":v1.5.0")
    args = container["args"]
    assert args[:6] == [
        "--pool-name",
        "svc",
        "--pool-namespace",
        "llm",
        "--pool-group",
        "inference.networking.k8s.io",
    ]
    assert "--config-file" in args and "/config/default-plugins.yaml" in args
    assert container["readinessProbe"]["grpc"] == {"port": 9003, "service": "inference-extension"}
    assert (
        container["securityContext"]["readOnlyRootFilesystem"] is True
        and pod["securityContext"]["runAsNonRoot"]
    )
    assert pod["serviceAccountName"] == "svc-epp" and deployment["spec"]["strategy"] == {"type": "Recreate"}
    config = yaml.safe_load(find(objects, "ConfigMap", "svc-epp")["data"]["default-plugins.yaml"])
    weights = {p["pluginRef"]: p["weight"] for p in config["schedulingProfiles"][0]["plugins"]}
    assert weights == {"queue-scorer": 2, "kv-cache-utilization-scorer": 2, "prefix-cache-scorer": 3}
    role = find(objects, "Role", "svc-epp")
    assert {"apiGroups": ["inference.networking.k8s.io"], "resources": ["inferencepools"],
            "verbs": ["get", "watch", "list"]} in role["rules"]  # fmt: skip


def test_sglang_metrics_are_read_as_sglangs() -> None:
    objects = render_spec(spec_of(gateway=GIE, engine={"name": "sglang"}))
    config = yaml.safe_load(find(objects, "ConfigMap", "svc-epp")["data"]["default-plugins.yaml"])
    extractor = next(p for p in config["plugins"] if p["type"] == "core-metrics-extractor")
    assert extractor["parameters"] == {"defaultEngine": "sglang"}


def test_route_goes_from_the_gateway_to_the_pool() -> None:
    route = find(render_spec(spec_of(gateway={**GIE, "host": "llm.example.com"})), "HTTPRoute", "svc")["spec"]
    assert route["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                    "name": "inference-gateway", "namespace": "gateway-system"}]  # fmt: skip
    assert route["rules"][0]["backendRefs"] == [
        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "svc"}
    ]
    assert route["hostnames"] == ["llm.example.com"]
    local = find(render_spec(spec_of(gateway={**GIE, "gateway_ref": "shared-gw"})), "HTTPRoute", "svc")[
        "spec"
    ]
    assert local["parentRefs"][0]["namespace"] == "llm"


def test_network_policies_open_the_engines_to_the_gateways_namespace_and_the_picker() -> None:
    objects = render_spec(spec_of(gateway=GIE))
    engine = find(objects, "NetworkPolicy", "svc-engine")["spec"]["ingress"]
    sources = [peer for rule in engine for peer in rule["from"]]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}}
    } in sources
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "svc",
                                            "app.kubernetes.io/component": "endpoint-picker"}}} in sources  # fmt: skip
    picker = find(objects, "NetworkPolicy", "svc-epp")["spec"]
    assert picker["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9002}]
    assert {"protocol": "TCP", "port": 443} in picker["egress"][-1]["ports"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"gateway": {"kind": "inference-extension"}}, "needs gateway.gateway_ref"),
        ({"gateway": GIE, "engine": {"name": "tgi"}}, "vllm and sglang only"),
        ({"gateway": GIE, "scaling": {"metric": "gateway-pending"}}, "needs kubellm's gateway"),
    ],
)
def test_combinations_the_picker_cannot_serve_are_refused(
    changes: dict[str, dict[str, str]], message: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        spec_of(**changes)
