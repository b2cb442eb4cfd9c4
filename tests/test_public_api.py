"""The public Python API: `from kubellm import load_spec, plan`."""

from __future__ import annotations

from pathlib import Path


def test_load_spec_and_plan_from_the_package_root(tmp_path: Path) -> None:
    import kubellm.plan.planner  # noqa: F401  (the submodule loaded first must not shadow the function)
    from kubellm import load_spec, plan

    path = tmp_path / "spec.yaml"
    path.write_text(
        "apiVersion: kubellm.dev/v1alpha1\nkind: LLMService\nmetadata: {name: demo}\n"
        "model: {source: 'hf://meta-llama/Llama-3.1-8B-Instruct'}\ngpu: {type: l4, count: 1}\n"
    )
    result = plan(load_spec(path))
    assert result.fits
    assert result.kv_cache.bytes_per_token == 131_072
