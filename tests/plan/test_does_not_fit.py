"""A plan that does not fit: no engine arguments, no price, and re-planned suggestions on the same GPU type first."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.errors import UsageError
from kubellm.planning import plan
from kubellm.spec import LLMService

runner = CliRunner()


def service(model: str, gpu_type: str, **sections: dict[str, Any]) -> LLMService:
    data: dict[str, Any] = {
        "metadata": {"name": "t"},
        "model": {"source": "hf://x/y", "name": model},
        "gpu": {"type": gpu_type},
    }
    for key, values in sections.items():
        data.setdefault(key, {}).update(values)
    return LLMService.model_validate(data)


def apply(spec: LLMService, what: str) -> LLMService:
    """The spec with a suggestion ('tensor_parallel=8', 'kv_cache_dtype=fp8', …) applied."""
    data = spec.model_dump(mode="python")
    for part in what.split(" with "):
        key, value = part.split("=")
        if key == "tensor_parallel":
            data["gpu"]["count"] = int(value)
        elif key == "quantization":
            data["model"]["quantization"] = value
        elif key in ("kv_cache_dtype", "max_model_len", "max_num_seqs"):
            data["serving"][key] = int(value) if value.isdigit() else value
        elif key == "gpu_memory_utilization":
            data["gpu"]["memory_utilization"] = float(value)
    return LLMService.model_validate(data)


def test_a_70b_on_one_l4_suggests_eight_l4_not_another_gpu_type() -> None:
    spec = service("Llama-3.3-70B-Instruct", "l4", gpu={"count": 1})
    p = plan(spec)
    assert not p.fits
    assert p.engine_args == []  # nothing to run: no '--max-model-len 0'
    assert p.cost.usd_per_hour is None and p.cost.usd_per_million_output_tokens is None
    assert p.suggestion is not None and p.suggestion.what == "tensor_parallel=8"
    assert plan(apply(spec, p.suggestion.what)).fits  # the suggestion was re-planned


def test_a_provider_instance_keeps_its_shape_but_no_price_when_nothing_fits() -> None:
    p = plan(service("Llama-3.3-70B-Instruct", "l4", gpu={"count": 1}, placement={"provider": "eks"}))
    assert not p.fits and p.cost.usd_per_hour is None
    assert p.instance is None or p.instance.usd_per_replica_hour is None


def test_same_gpu_order_more_gpus_then_fp8_kv_then_quantized_weights_then_shorter_context() -> None:
    spec = service("Llama-3.1-8B", "l4", gpu={"count": 1}, serving={"max_model_len": 131072})
    p = plan(spec)
    assert not p.fits and p.suggestion is not None
    assert p.suggestion.what.startswith("tensor_parallel=")
    offered = [p.suggestion.what, *p.suggestion.why.split("also possible: ")[1].rstrip(")").split(", ")]
    order = ["tensor_parallel", "kv_cache_dtype", "quantization", "max_model_len"]
    ranks = [
        next(i for i, key in enumerate(order) if o.startswith(key))
        for o in offered
        if o.split("=")[0] in order
    ]
    assert ranks == sorted(ranks)
    for what in offered:
        assert plan(apply(spec, what)).fits, what


def test_a_single_gpu_that_only_shards_suggests_a_bigger_gpu_last() -> None:
    spec = service("Llama-3.3-70B-Instruct", "h100", gpu={"count": 1, "sharing": "time-slicing"})
    p = plan(spec)
    assert not p.fits and (
        p.suggestion is None or "gpu=" not in p.suggestion.what or "tensor" not in p.suggestion.what
    )


def test_cli_exits_3_and_still_prints_the_plan_as_json() -> None:
    result = runner.invoke(app, ["plan", "--model", "Llama-3.3-70B-Instruct", "--gpu", "l4", "--json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["fits"] is False and data["engine_args"] == [] and data["cost"]["usd_per_hour"] is None
    assert data["suggestion"]["what"] == "tensor_parallel=8" and data["vllm_version"]


def test_cli_exits_0_when_it_fits_and_names_the_release() -> None:
    result = runner.invoke(
        app, ["plan", "--model", "Llama-3.1-8B", "--gpu", "h100", "--vllm-version", "0.14.1"]
    )
    assert result.exit_code == 0, result.output
    assert "vLLM 0.14.1" in result.output


def test_cli_rejects_a_malformed_version() -> None:
    result = runner.invoke(
        app, ["plan", "--model", "Llama-3.1-8B", "--gpu", "h100", "--vllm-version", "newest"]
    )
    assert isinstance(result.exception, UsageError)  # the console entry prints it and exits 2
    assert "0.11.0" in result.exception.fix
