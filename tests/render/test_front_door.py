"""Many services, one front door: specs that share a namespace render one gateway (a pool per model) and one
GPU quota that admits them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from render_helpers import EXAMPLES, plan_of, spec_of
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.errors import UsageError
from kubellm.render import RenderOptions, render_services
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects
from kubellm.spec import LLMService

SMALL = {"metadata": {"name": "llama-8b"}, "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
         "gpu": {"type": "L4", "count": 1}, "scaling": {"min_replicas": 1, "max_replicas": 3}}  # fmt: skip
LARGE = {"metadata": {"name": "llama-70b"}, "model": {"source": "hf://meta-llama/Llama-3.3-70B-Instruct", "quantization": "fp8"},
         "gpu": {"type": "H100", "count": 2}, "scaling": {"min_replicas": 1, "max_replicas": 2}}  # fmt: skip


def _spec(base: dict[str, Any], **sections: dict[str, Any]) -> LLMService:
    data: dict[str, Any] = {k: dict(v) for k, v in base.items()}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return spec_of(**data)


def _render(*specs: LLMService, **options: Any) -> list[dict[str, Any]]:
    return render_services([plan_of(s) for s in specs], RenderOptions(**options))


def _kinds(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_two_services_in_one_namespace_share_one_gateway_with_a_pool_each() -> None:
    objects = _render(_spec(SMALL), _spec(LARGE))
    gateways = [
        o
        for o in _kinds(objects, "Deployment")
        if o["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway"
    ]
    assert [g["metadata"]["name"] for g in gateways] == ["llm-gateway"]
    config = yaml.safe_load(
        next(o for o in _kinds(objects, "ConfigMap") if o["metadata"]["name"] == "llm-gateway")["data"][
            "gateway.yaml"
        ]
    )
    pools = {p["name"]: p["backends"]["name"] for p in config["pools"]}
    assert pools == {"meta-llama/Llama-3.1-8B-Instruct": "llama-8b-engine.llm.svc.cluster.local",
                     "meta-llama/Llama-3.3-70B-Instruct": "llama-70b-engine.llm.svc.cluster.local"}  # fmt: skip
    assert {s["metadata"]["name"] for s in _kinds(objects, "Service")} == {
        "llm-gateway",
        "llama-8b-engine",
        "llama-70b-engine",
    }
    assert len(_kinds(objects, "Namespace")) == 1


def test_one_gateway_fronts_engines_with_different_health_paths() -> None:
    """Triton beside vLLM: each pool is probed on its own engine's route and keeps its upstream name."""
    triton = {"metadata": {"name": "llama-8b-trt"}, "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct",
              "served_name": "llama-trt"}, "engine": {"name": "trtllm"}, "gpu": {"type": "L40S", "count": 1},
              "serving": {"max_model_len": 8192}, "scaling": {"min_replicas": 1, "max_replicas": 2},
              "storage": {"model_cache": "pvc", "access_mode": "ReadWriteMany", "storage_class": "shared-rwx"}}  # fmt: skip
    objects = _render(_spec(SMALL), _spec(triton))
    gateway_maps = [o for o in _kinds(objects, "ConfigMap") if o["metadata"]["name"] == "llm-gateway"]
    assert len(gateway_maps) == 1
    config = yaml.safe_load(gateway_maps[0]["data"]["gateway.yaml"])
    pools = {p["name"]: (p["health_path"], p.get("upstream_model")) for p in config["pools"]}
    assert pools == {
        "meta-llama/Llama-3.1-8B-Instruct": ("/health", None),
        "llama-trt": ("/health/ready", "ensemble"),
    }


def test_the_namespace_quota_admits_every_service_at_full_scale() -> None:
    small, large = _spec(SMALL), _spec(LARGE)
    (quota,) = _kinds(_render(small, large), "ResourceQuota")
    assert quota["metadata"]["name"] == "llm-gpus"
    need = sum(plan_of(s).resources.gpu_count * s.scaling.max_replicas for s in (small, large))
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": str(need)}  # 1 × 3 + 2 × 2


def test_engines_admit_the_shared_gateway_and_it_reaches_every_engine() -> None:
    objects = _render(_spec(SMALL), _spec(LARGE))
    policies = {p["metadata"]["name"]: p["spec"] for p in _kinds(objects, "NetworkPolicy")}
    shared = {"app.kubernetes.io/instance": "llm", "app.kubernetes.io/component": "gateway"}
    for engine in ("llama-8b-engine", "llama-70b-engine"):
        assert policies[engine]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": shared}}]
    gateway = policies["llm-gateway"]
    assert gateway["podSelector"]["matchLabels"] == shared
    to_engines = gateway["egress"][1]
    assert to_engines["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "engine"
    assert "llama-8b-gateway" not in policies and "llama-70b-gateway" not in policies


def test_the_shared_render_validates_and_is_deterministic() -> None:
    first = _render(_spec(SMALL), _spec(LARGE))
    assert first == _render(_spec(LARGE), _spec(SMALL))
    for version in (OLDEST_VERSION, newest_version()):
        assert validate_objects(first, version) == []


def test_services_in_different_namespaces_keep_their_own_gateway_and_quota() -> None:
    objects = _render(
        _spec(SMALL, metadata={"namespace": "llama-8b"}), _spec(LARGE, metadata={"namespace": "big"})
    )
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Deployment", "llama-8b-gateway"), ("Deployment", "llama-70b-gateway")} <= names
    assert {("ResourceQuota", "llama-8b-gpus"), ("ResourceQuota", "big-gpus")} <= names
    assert len(_kinds(objects, "Namespace")) == 2


def test_one_spec_alone_in_a_shared_namespace_writes_no_quota_that_could_block_another() -> None:
    from kubellm.render import render

    alone = render(plan_of(_spec(SMALL)))
    assert _kinds(alone, "ResourceQuota") == []
    own = render(plan_of(_spec(SMALL, metadata={"namespace": "llama-8b"})))
    assert [q["metadata"]["name"] for q in _kinds(own, "ResourceQuota")] == ["llama-8b-gpus"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gateway": {"replicas": 3}}, "gateway.replicas"),
        ({"security": {"api_key_secret": "other"}}, "security.api_key_secret"),
    ],
)
def test_services_that_disagree_on_the_gateway_are_refused_with_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(UsageError) as err:
        _render(_spec(SMALL), _spec(LARGE, **change))
    assert err.value.what.startswith(field) and "different namespaces" in err.value.fix


def test_the_same_served_name_twice_in_a_namespace_is_refused() -> None:
    other = _spec(SMALL, metadata={"name": "llama-8b-b"})
    with pytest.raises(UsageError) as err:
        _render(_spec(SMALL), other)
    assert "model.served_name" in err.value.fix


def test_a_service_without_the_gateway_keeps_its_direct_access() -> None:
    objects = _render(_spec(SMALL), _spec(LARGE, gateway={"enabled": False}))
    assert [
        o["metadata"]["name"] for o in _kinds(objects, "Deployment") if "gateway" in o["metadata"]["name"]
    ] == ["llama-8b-gateway"]


def test_render_cli_takes_several_specs(tmp_path: Path) -> None:
    paths = []
    for base in (SMALL, LARGE):
        path = tmp_path / f"{base['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(_spec(base).model_dump(mode="json", exclude_unset=True)))
        paths.append(str(path))
    result = CliRunner().invoke(app, ["render", *paths, "--json"])
    assert result.exit_code == 0, result.output
    objects = json.loads(result.stdout)
    gateways = [
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-gateway")
    ]
    assert gateways == ["llm-gateway"]
    assert [q["metadata"]["name"] for q in objects if q["kind"] == "ResourceQuota"] == ["llm-gpus"]


def test_examples_that_disagree_on_the_gateway_say_which_field(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["render", str(EXAMPLES / "llama-3.1-8b-l4.yaml"), str(EXAMPLES / "llama-3.3-70b-h100-tp2.yaml")]
    )
    assert isinstance(result.exception, UsageError) and "gateway.host" in result.exception.what
