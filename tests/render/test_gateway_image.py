"""The gateway image: the release image by default, the spec's gateway.image, `render --gateway-image`."""

from __future__ import annotations

import pytest
from render_helpers import EXAMPLES, find, render_spec, spec_of
from typer.testing import CliRunner

from kubellm import RELEASE_IMAGE
from kubellm.cli.app import app
from kubellm.errors import UsageError
from kubellm.spec import validate_as
from kubellm.spec.service import LLMService


def gateway_image(objects: list[dict[str, object]], name: str = "svc-gateway") -> str:
    deployment = find(objects, "Deployment", name)
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])  # type: ignore[index]


def test_default_is_the_release_image_of_this_version() -> None:
    assert gateway_image(render_spec(spec_of())) == RELEASE_IMAGE


def test_spec_then_option_choose_the_image() -> None:
    mirrored = spec_of(gateway={"image": "registry.internal/kubellm/kubellm:0.1.0"})
    assert gateway_image(render_spec(mirrored)) == "registry.internal/kubellm/kubellm:0.1.0"
    digest = "registry.internal/kubellm/kubellm@sha256:" + "a" * 64
    assert gateway_image(render_spec(mirrored, gateway_image=digest)) == digest


@pytest.mark.parametrize("image", ["registry.internal/kubellm/kubellm", "ghcr.io/kubellm/kubellm:latest"])
def test_an_unpinned_image_is_refused(image: str) -> None:
    data = spec_of().model_dump(mode="json")
    data["gateway"]["image"] = image
    with pytest.raises(UsageError) as info:
        validate_as(LLMService, data, "spec.yaml")
    assert "gateway.image" in info.value.what and "not pinned" in info.value.what


def test_render_flag() -> None:
    result = CliRunner().invoke(
        app,
        [
            "render",
            str(EXAMPLES / "llama-3.1-8b-l4.yaml"),
            "--images",
            "--gateway-image",
            "mirror.example/k/kubellm:9",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "mirror.example/k/kubellm:9" in result.output.splitlines()
    assert RELEASE_IMAGE not in result.output
    refused = CliRunner().invoke(
        app, ["render", str(EXAMPLES / "llama-3.1-8b-l4.yaml"), "--gateway-image", "x/y"]
    )
    assert isinstance(refused.exception, UsageError) and refused.exception.exit_code == 2
    assert "not pinned" in refused.exception.what
