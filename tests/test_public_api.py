"""The public Python API: `from kubellm import load_spec, plan`."""

from __future__ import annotations

from pathlib import Path


def test_load_spec_and_plan_from_the_package_root(tmp_path: Path) -> None:
    import kubellm.planning.planner  # noqa: F401  (the submodule loaded first must not shadow the function)
    from kubellm import load_spec, plan

    path = tmp_path / "spec.yaml"
    path.write_text(
        "apiVersion: kubellm.dev/v1alpha1\nkind: LLMService\nmetadata: {name: demo}\n"
        "model: {source: 'hf://meta-llama/Llama-3.1-8B-Instruct'}\ngpu: {type: l4, count: 1}\n"
    )
    result = plan(load_spec(path))
    assert result.fits
    assert result.kv_cache.bytes_per_token == 131_072


def test_kubellm_plan_is_the_function_however_it_is_reached() -> None:
    import inspect
    import subprocess
    import sys

    import kubellm
    import kubellm.planning
    from kubellm.planning.planner import plan as planner_plan

    # Importing the planning package binds `kubellm.planning`, never `kubellm.plan`: the attribute is the
    # function itself, with its own signature and docstring for help().
    assert kubellm.plan is planner_plan
    assert inspect.isfunction(kubellm.plan)
    assert "spec" in inspect.signature(kubellm.plan).parameters
    assert kubellm.plan.__doc__
    # In a fresh interpreter, whichever import comes first.
    code = (
        "import kubellm.planning.memory, inspect; from kubellm import plan; import kubellm; "
        "assert inspect.isfunction(plan) and kubellm.plan is plan, type(plan)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
