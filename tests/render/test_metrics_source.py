"""observability.prometheus_url (and auth for managed Prometheus) reaches every reader of the load signal:
KEDA's Prometheus trigger (with a TriggerAuthentication) and the Prometheus Adapter's Helm values."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from render_helpers import find, render_spec, spec_of

from kubellm.errors import UsageError
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects

SCALED = {"min_replicas": 1, "max_replicas": 3}
GMP = "https://monitoring.googleapis.com/v1/projects/my-project/location/global/prometheus"
AMP = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd"
THANOS = "https://thanos-querier.openshift-monitoring.svc.cluster.local:9092"


def _trigger(objects: list[dict[str, Any]]) -> dict[str, Any]:
    trigger: dict[str, Any] = find(objects, "ScaledObject")["spec"]["triggers"][0]
    return trigger


def test_the_default_reads_kube_prometheus_stack_without_auth() -> None:
    objects = render_spec(spec_of(scaling=SCALED))
    trigger = _trigger(objects)
    assert trigger["metadata"]["serverAddress"] == "http://prometheus-operated.monitoring.svc:9090"
    assert "authenticationRef" not in trigger and all(o["kind"] != "TriggerAuthentication" for o in objects)


@pytest.mark.parametrize(
    ("auth", "url", "provider", "extra"),
    [
        ("gcp", GMP, "gcp", {}),
        ("aws", AMP, "aws", {"awsRegion": "eu-west-1"}),
        ("azure", "https://ws.eastus.prometheus.monitor.azure.com", "azure-workload", {}),
    ],
)
def test_managed_prometheus_is_queried_with_the_keda_operators_cloud_identity(
    auth: str, url: str, provider: str, extra: dict[str, str]
) -> None:
    objects = render_spec(
        spec_of(scaling=SCALED, observability={"prometheus_url": url, "prometheus_auth": auth})
    )
    trigger = _trigger(objects)
    assert trigger["metadata"]["serverAddress"] == url
    assert all(trigger["metadata"][k] == v for k, v in extra.items())
    ta = find(objects, "TriggerAuthentication", "svc-prometheus")
    assert ta["spec"] == {"podIdentity": {"provider": provider}}
    assert trigger["authenticationRef"] == {"name": "svc-prometheus"}
    for version in (OLDEST_VERSION, newest_version()):
        assert validate_objects(objects, version) == []


def test_openshift_thanos_gets_a_bearer_token_and_the_namespace() -> None:
    objects = render_spec(spec_of(scaling=SCALED, observability={
        "prometheus_url": THANOS, "prometheus_auth": "bearer", "prometheus_auth_secret": "thanos-token"}))  # fmt: skip
    trigger = _trigger(objects)
    assert trigger["metadata"]["authModes"] == "bearer" and trigger["metadata"]["namespace"] == "llm"
    ta = find(objects, "TriggerAuthentication")
    assert ta["spec"]["secretTargetRef"] == [
        {"parameter": "bearerToken", "name": "thanos-token", "key": "token"}
    ]


def test_the_prometheus_adapter_values_carry_the_url_port_token_and_rules() -> None:
    objects = render_spec(spec_of(scaling={**SCALED, "autoscaler": "hpa"}, observability={
        "prometheus_url": THANOS, "prometheus_auth": "bearer", "prometheus_auth_secret": "thanos-token"}))  # fmt: skip
    values = yaml.safe_load(find(objects, "ConfigMap", "svc-prometheus-adapter-rules")["data"]["values.yaml"])
    assert values["prometheus"] == {
        "url": "https://thanos-querier.openshift-monitoring.svc.cluster.local",
        "port": 9092,
        "path": "",
    }
    assert (
        values["rules"]["custom"][0]["name"]["as"] == "kubellm_svc_queue"
        and values["rules"]["default"] is False
    )
    assert "--prometheus-token-file=/var/run/prometheus/token" in values["extraArguments"]
    assert values["extraVolumes"][0]["secret"]["secretName"] == "thanos-token"


def test_an_hpa_cannot_sign_requests_to_managed_prometheus() -> None:
    with pytest.raises(UsageError) as err:
        render_spec(
            spec_of(
                scaling={**SCALED, "autoscaler": "hpa"},
                observability={"prometheus_url": GMP, "prometheus_auth": "gcp"},
            )
        )
    assert "keda" in err.value.fix


def test_bad_prometheus_settings_are_refused_by_the_spec_or_render() -> None:
    with pytest.raises(ValueError, match="prometheus_auth_secret"):
        spec_of(observability={"prometheus_auth": "bearer"})
    with pytest.raises(ValueError, match="http"):
        spec_of(observability={"prometheus_url": "prometheus:9090"})
    with pytest.raises(UsageError) as err:
        render_spec(spec_of(scaling=SCALED, observability={"prometheus_url": GMP, "prometheus_auth": "aws"}))
    assert "aps-workspaces" in err.value.fix
