"""The quickstart spec: no download, no GPU, no key — and the packaged copy is the example's."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from kubellm.local.engines import LocalEngine, choose_engine
from kubellm.local.environment import Environment
from kubellm.planning import plan
from kubellm.spec import load_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def test_packaged_default_is_the_example_file() -> None:
    packaged = (
        resources.files("kubellm.local").joinpath("data", "quickstart.yaml").read_text(encoding="utf-8")
    )
    assert packaged == EXAMPLE.read_text(encoding="utf-8")


def test_quickstart_needs_no_key_and_plans_to_fit() -> None:
    spec = load_spec(EXAMPLE)
    assert spec.security.api_key_secret is None
    assert plan(spec).fits


def test_quickstart_runs_on_the_simulator_on_a_machine_without_engines() -> None:
    assert choose_engine(load_spec(EXAMPLE), Environment()).engine == LocalEngine.SIM
