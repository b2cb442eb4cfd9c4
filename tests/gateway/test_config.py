"""The GatewayConfig contract: YAML round trip, and errors that name the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubellm.errors import SpecError, UsageError
from kubellm.gateway.config import is_loopback, quick_config
from kubellm.spec.gateway import GatewayConfig, StaticBackends
from kubellm.spec.loader import load_gateway_config


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    config = quick_config("m", ["http://10.0.0.1:8000/v1/"], routing="prefix-affinity", port=9000)
    loaded = load_gateway_config(write(tmp_path, config.model_dump(mode="json")))
    assert loaded == config
    backends = loaded.pools[0].backends
    assert isinstance(backends, StaticBackends) and backends.urls == ["http://10.0.0.1:8000"]


def test_every_field_is_described() -> None:
    def walk(model: type) -> None:
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            assert info.description, f"{model.__name__}.{name}"
            for arg in getattr(info.annotation, "__args__", ()) or (info.annotation,):
                if isinstance(arg, type) and hasattr(arg, "model_fields"):
                    walk(arg)

    walk(GatewayConfig)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"pools": [{"name": "a", "routng": "round-robin"}]}, "pools[0].routng: unknown field"),
        ({"pools": [{"name": "a", "routing": "random"}]}, "pools[0].routing"),
        ({"pools": [{"name": "a"}, {"name": "b", "aliases": ["a"]}]}, "claimed by pools"),
        (
            {"pools": [{"name": "a", "long_context": {"pool": "x", "threshold_tokens": 10}}]},
            "long_context.pool",
        ),
        (
            {"pools": [{"name": "a", "backends": {"kind": "static", "urls": ["10.0.0.1:80"]}}]},
            "not an http(s) URL",
        ),
        ({"listen": {"tls_cert": "c.pem"}}, "tls_cert and tls_key go together"),
        ({"kind": "LLMService"}, "is not a GatewayConfig"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path: Path, data: dict[str, object], needle: str) -> None:
    with pytest.raises(SpecError) as err:
        load_gateway_config(write(tmp_path, data))
    assert needle in str(err.value)


def test_quick_config_rejects_bad_flags() -> None:
    with pytest.raises(UsageError):
        quick_config("m", ["http://a:1"], max_body_bytes=10)
    with pytest.raises(UsageError):
        quick_config("m", ["a:1"])


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("gateway.example")
