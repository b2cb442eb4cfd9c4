"""Autoscaling, disruption budgets, network policies, gateway config and monitoring objects."""

from __future__ import annotations

import yaml
from render_helpers import find, plan_of, render_spec, spec_of

from kubellm.spec.gateway import GatewayConfig


def test_keda_scales_on_the_engine_queue_with_stabilization_from_the_startup_time() -> None:
    spec = spec_of(scaling={"min_replicas": 1, "max_replicas": 4, "target": 3})
    plan = plan_of(spec)
    so = find(render_spec(spec), "ScaledObject")
    trigger = so["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert (
        trigger["metadata"]["query"] == 'sum(vllm:num_requests_waiting{namespace="llm",service="svc-engine"})'
    )
    assert trigger["metadata"]["threshold"] == "3"
    behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == max(30, min(300, plan.probes.load_s // 2))
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert so["spec"]["minReplicaCount"] == 1 and so["spec"]["maxReplicaCount"] == 4


def test_scale_to_zero_uses_the_gateway_pending_metric_and_holds_requests() -> None:
    spec = spec_of(scaling={"min_replicas": 0, "scale_to_zero": True, "metric": "gateway-pending"})
    objects = render_spec(spec)
    so = find(objects, "ScaledObject")
    assert so["spec"]["minReplicaCount"] == 0
    query = so["spec"]["triggers"][0]["metadata"]["query"]
    assert query == (
        '(sum(kubellm_pool_pending_requests{namespace="llm",pool="meta-llama/Llama-3.1-8B-Instruct"}) or vector(0))'
        ' + (sum(kubellm_gateway_backend_outstanding_requests{namespace="llm",'
        'pool="meta-llama/Llama-3.1-8B-Instruct"}) or vector(0))'
    )
    config = yaml.safe_load(find(objects, "ConfigMap", "svc-gateway")["data"]["gateway.yaml"])
    assert config["pools"][0]["cold_start_timeout_s"] == 600.0
    assert config["pools"][0]["scale_from_zero"] is True  # the gateway holds requests while at zero
    without = yaml.safe_load(find(render_spec(spec_of()), "ConfigMap", "svc-gateway")["data"]["gateway.yaml"])
    assert without["pools"][0]["scale_from_zero"] is False  # nothing to wait for: 503 at once


def test_off_hours_cron_adds_a_keda_cron_trigger() -> None:
    so = find(render_spec(spec_of(scaling={"off_hours_cron": "0 8 * * 1-5 to 0 20 * * 1-5"})), "ScaledObject")
    cron = so["spec"]["triggers"][1]
    assert cron["type"] == "cron" and cron["metadata"]["start"] == "0 8 * * 1-5"
    assert cron["metadata"]["end"] == "0 20 * * 1-5"


def test_hpa_uses_a_pods_metric_and_ships_the_adapter_rule() -> None:
    objects = render_spec(spec_of(scaling={"autoscaler": "hpa", "metric": "running", "target": 8}))
    hpa = find(objects, "HorizontalPodAutoscaler")
    metric = hpa["spec"]["metrics"][0]
    assert metric["type"] == "Pods" and metric["pods"]["target"]["averageValue"] == "8"
    rules = yaml.safe_load(find(objects, "ConfigMap", "svc-prometheus-adapter-rules")["data"]["rules.yaml"])
    rule = rules["rules"][0]
    assert rule["name"]["as"] == metric["pods"]["metric"]["name"]
    assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
    assert rule["seriesQuery"] == 'vllm:num_requests_running{namespace="llm",service="svc-engine"}'


def test_every_service_gets_a_disruption_budget() -> None:
    objects = render_spec(spec_of())
    for name in ("svc-engine", "svc-gateway"):
        pdb = find(objects, "PodDisruptionBudget", name)
        assert pdb["spec"]["maxUnavailable"] == 1


def test_network_policies_deny_by_default_and_open_only_gateway_to_engine() -> None:
    objects = render_spec(spec_of())
    deny = find(objects, "NetworkPolicy", "svc-default-deny")
    # deny all by policy types alone: the API server stores `ingress: []` as absent, so render writes none
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    engine = find(objects, "NetworkPolicy", "svc-engine")
    first = engine["spec"]["ingress"][0]
    assert first["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "svc",
                                                              "app.kubernetes.io/component": "gateway"}}}]  # fmt: skip
    assert first["ports"] == [{"protocol": "TCP", "port": 8000}]
    download = find(objects, "NetworkPolicy", "svc-model-download")
    assert download["spec"]["policyTypes"] == ["Egress"]
    # the default cache is per replica: each engine pod's init container downloads
    assert download["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "engine"
    shared = render_spec(spec_of(storage={"access_mode": "ReadWriteMany", "storage_class": "shared-rwx"}))
    download = find(shared, "NetworkPolicy", "svc-model-download")
    assert download["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "prefetch"


def test_egress_cidrs_replace_open_https() -> None:
    objects = render_spec(spec_of(security={"egress_cidrs": ["10.0.0.0/8"]}))
    download = find(objects, "NetworkPolicy", "svc-model-download")
    assert {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]} in download["spec"]["egress"]


def test_gateway_config_is_a_valid_gateway_config_pointing_at_the_engine_service() -> None:
    objects = render_spec(spec_of(security={"api_key_secret": "keys"}, gateway={"requests_per_minute": 60}))
    data = yaml.safe_load(find(objects, "ConfigMap", "svc-gateway")["data"]["gateway.yaml"])
    config = GatewayConfig.model_validate(data)
    backends = config.pools[0].backends
    assert (
        backends.kind == "dns"
        and backends.name == "svc-engine.llm.svc.cluster.local"
        and backends.port == 8000
    )
    assert config.admission.api_keys_file == "/etc/kubellm/keys/keys"
    assert config.admission.requests_per_minute == 60
    gateway = find(objects, "Deployment", "svc-gateway")
    volumes = gateway["spec"]["template"]["spec"]["volumes"]
    assert {"name": "api-keys", "secret": {"secretName": "keys", "defaultMode": 0o400}} in volumes


def test_gateway_disabled_renders_no_gateway_objects() -> None:
    objects = render_spec(spec_of(gateway={"enabled": False}))
    assert not [o for o in objects if o["metadata"]["name"].startswith("svc-gateway")]


def test_ingress_with_cert_manager_and_httproute() -> None:
    ing = find(
        render_spec(spec_of(gateway={"host": "a.example.com", "cert_manager_issuer": "le"})), "Ingress"
    )
    assert ing["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "le"}
    assert ing["spec"]["tls"] == [{"hosts": ["a.example.com"], "secretName": "svc-tls"}]
    route = find(
        render_spec(
            spec_of(gateway={"host": "a.example.com", "ingress": "httproute", "gateway_ref": "gw/public"})
        ),
        "HTTPRoute",
    )
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gw", "sectionName": "https"}]


def test_alerts_cover_kv_cache_queue_readiness_restarts_oom_and_gpu_use() -> None:
    rule = find(render_spec(spec_of()), "PrometheusRule")
    names = {r["alert"] for r in rule["spec"]["groups"][0]["rules"]}
    assert names == {
        "LLMKVCacheNearlyFull", "LLMQueueGrowing", "LLMNoReadyReplica", "LLMEngineRestarting",
        "LLMEngineOOMKilled", "LLMGpuUtilizationLow",
    }  # fmt: skip


def test_dashboard_is_grafana_json_in_a_labelled_configmap() -> None:
    import json

    cm = find(render_spec(spec_of()), "ConfigMap", "svc-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(cm["data"]["kubellm-svc.json"])
    assert any("vllm:kv_cache_usage_perc" in p["targets"][0]["expr"] for p in board["panels"])


def test_namespace_carries_pod_security_labels_and_can_be_left_out() -> None:
    ns = find(render_spec(spec_of()), "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(o["kind"] != "Namespace" for o in render_spec(spec_of(), namespace_object=False))
