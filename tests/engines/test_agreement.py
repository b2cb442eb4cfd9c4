"""Plan, render and lint agree on every owned flag of every rendered engine, in every spelling.

The plan writes a flag by the name its engine table gives; render passes it through and refuses an
``engine.extra_args`` entry that sets it (any spelling, naming the spec field to use instead); lint
reads the rendered container back to the value the plan wrote.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubellm.engines import KUBELLM, RENDERED, EngineTable, Flag, parse_flags, read_settings, table_for
from kubellm.errors import UsageError
from kubellm.lint.engines import detect
from kubellm.planning import Plan, plan
from kubellm.render import render, render_context

from .specs import engine_spec

ENGINES = sorted(RENDERED)


def _engine_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    for obj in objects:
        if (
            obj["kind"] in ("Deployment", "StatefulSet", "LeaderWorkerSet")
            and obj["metadata"]["labels"].get("app.kubernetes.io/component") == "engine"
        ):
            return dict(obj["spec"]["template"]["spec"]["containers"][0])
    raise AssertionError("no engine workload rendered")


def _plan_value(p: Plan, setting: str) -> Any:
    if setting in ("tensor_parallel", "pipeline_parallel"):
        return getattr(p.parallelism, setting)
    if setting == "prefix_caching":
        return p.spec.serving.prefix_caching
    return getattr(p.settings, setting)


def spellings(flag: Flag) -> list[str]:
    """Every way a person may write the flag: aliases, negation, `_` for `-` and back, one dash or two."""
    out: set[str] = set()
    for s in flag.spellings:
        dashes = len(s) - len(s.lstrip("-"))
        body = s[dashes:]
        for b in {body, body.replace("-", "_"), body.replace("_", "-")}:
            out.add("-" * dashes + b)
            if dashes == 2 and len(b) > 1:
                out.add("-" + b) if b in {a.lstrip("-") for a in flag.aliases} else None
    return sorted(out)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_planned_flag_is_an_owned_table_flag(engine: str) -> None:
    table = table_for(engine)
    p = plan(engine_spec(engine))
    flags = [a for a in p.engine_args if a.startswith("-")]
    assert flags, "the plan wrote no flags"
    for arg in flags:
        flag = table.find(arg)
        assert flag is not None, f"{engine}: the plan writes {arg}, which the table does not know"
        assert flag.owned and flag.owner != KUBELLM, f"{engine}: planned {arg} has no spec field owning it"
        assert arg in (flag.name, flag.negation), (
            f"{engine}: the plan writes {arg}, not the canonical {flag.name}"
        )


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "trtllm"])
def test_lint_reads_the_rendered_container_back_to_the_planned_values(engine: str) -> None:
    table = table_for(engine)
    p = plan(engine_spec(engine))
    container = _engine_container(render(p))
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    config = detect(container["image"], container.get("command", []), container.get("args", []), env)
    assert config is not None and config.engine == engine
    planned = read_settings(table, parse_flags(p.engine_args, table.boolean_keys()), {})
    checked = 0
    for setting, written in planned.items():
        flag = table.flag(setting)
        read = getattr(config, setting)
        assert read == written, f"{engine}: lint reads {setting}={read!r}, the plan wrote {written!r}"
        expected = _plan_value(p, setting)
        if isinstance(read, str):
            read = flag.spec_value(read)
        assert read == pytest.approx(expected), (
            f"{engine}: {flag.name} reads back {read!r}, plan has {expected!r}"
        )
        checked += 1
    assert checked >= 2
    assert config.max_model_len == p.settings.max_model_len  # derived flags too (llama.cpp's ctx × slots)


def test_trtllm_serve_arguments_read_back_to_the_plan() -> None:
    p = plan(engine_spec("trtllm"))
    config = detect(
        "nvcr.io/nvidia/tritonserver:25.01-trtllm-python-py3", ["trtllm-serve", "m", *p.engine_args], [], {}
    )
    assert config is not None and config.engine == "trtllm"
    assert (config.tensor_parallel, config.pipeline_parallel) == (2, 1)
    assert config.max_model_len == p.settings.max_model_len


def _with_extra(p: Plan, extra: list[str]) -> Plan:
    spec = p.spec.model_copy(update={"engine": p.spec.engine.model_copy(update={"extra_args": extra})})
    return p.model_copy(update={"spec": spec})


@pytest.mark.parametrize("engine", ENGINES)
def test_every_spelling_of_every_owned_flag_in_extra_args_is_refused_naming_its_field(engine: str) -> None:
    table = table_for(engine)
    p = plan(engine_spec(engine))
    ctx = render_context(p)
    refused = 0
    for flag in table.owned_flags():
        for spelling in spellings(flag):
            for extra in ([spelling, "7"], [f"{spelling}=7"]) if not flag.boolean else ([spelling],):
                engine_ctx = dataclasses.replace(ctx.engine, plan=_with_extra(p, extra))
                with pytest.raises(UsageError) as err:
                    ctx.adapter.args(engine_ctx)
                text = f"{err.value.what} {err.value.fix}"
                assert spelling in text and (flag.owner in text or flag.owner == KUBELLM), text
                refused += 1
    assert refused >= 2 * sum(1 for _ in table.owned_flags())


@pytest.mark.parametrize("engine", ENGINES)
def test_free_flags_pass_through_extra_args(engine: str) -> None:
    table: EngineTable = table_for(engine)
    p = plan(engine_spec(engine))
    ctx = render_context(p)
    free = "--kubellm-test-free-flag"
    assert table.find(free) is None
    args = ctx.adapter.args(dataclasses.replace(ctx.engine, plan=_with_extra(p, [free, "1"])))
    assert args[-2:] == [free, "1"]


@pytest.mark.parametrize("engine", sorted({*RENDERED, "triton", "lmdeploy"}))
def test_every_spelling_of_a_valued_flag_reads_the_same_value(engine: str) -> None:
    table = table_for(engine)
    for flag in table.flags:
        if flag.setting is None or flag.derived or flag.boolean or flag.kind != "int":
            continue
        for spelling in spellings(flag):
            for argv in ([spelling, "7"], [f"{spelling}=7"]):
                got = read_settings(table, parse_flags(argv, table.boolean_keys()), {})
                assert got.get(flag.setting) == 7, f"{engine}: {argv} reads {got}"
