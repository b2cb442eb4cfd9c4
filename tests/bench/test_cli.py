"""The `kubellm bench` command line: flags, SLO syntax, help, and the results contract."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import kubellm.spec.bench as contract
from kubellm.cli.app import app
from kubellm.cli.bench import parse_slo
from kubellm.errors import UsageError

runner = CliRunner()


def test_slo_syntax() -> None:
    targets = parse_slo("ttft_p95=500ms, itl=0.05s,e2e_mean=2000")
    assert [(t.metric, t.stat, t.limit_ms) for t in targets] == [
        ("ttft", "p95", 500.0),
        ("itl", "p95", 50.0),
        ("e2e", "mean", 2000.0),
    ]
    assert targets[0].label == "ttft_p95=500ms"
    with pytest.raises(UsageError, match="cannot read"):
        parse_slo("latency<5")


def test_help_shows_the_url_form_and_examples() -> None:
    out = runner.invoke(app, ["bench", "--help"])
    assert out.exit_code == 0
    assert "kubellm bench URL --model NAME" in out.output
    assert "--concurrency" in out.output and "kubellm bench merge" in out.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "1", "-r", "2"], "exclude each other"),
        (["-c", "1,0"], "above 0"),
        (["-c", "one"], "comma-separated numbers"),
        (["-d", "1", "-n", "5"], "exclude each other"),
        (["--length-dist", "zipf"], "--length-dist"),
    ],
)
def test_conflicting_or_bad_flags_are_usage_errors(args: list[str], message: str) -> None:
    out = runner.invoke(app, ["bench", "http://127.0.0.1:9", "-m", "m", *args])
    assert isinstance(out.exception, UsageError)
    assert message in str(out.exception)


def test_missing_api_key_variable_is_named() -> None:
    out = runner.invoke(
        app, ["bench", "http://127.0.0.1:9", "-m", "m", "--api-key-env", "NO_SUCH_VAR_FOR_TEST"]
    )
    assert isinstance(out.exception, UsageError)
    assert "NO_SUCH_VAR_FOR_TEST" in str(out.exception)


def test_every_results_field_is_described_and_the_schema_builds() -> None:
    models = [m for m in vars(contract).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    models = [m for m in models if m.__module__ == contract.__name__]
    assert contract.BenchResults in models
    for model in models:
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"
    schema = contract.BenchResults.model_json_schema()
    point = schema["$defs"]["BenchPoint"]["properties"]
    for field in (
        "concurrency",
        "rate",
        "requests",
        "errors",
        "in_flight",
        "requests_per_s",
        "output_tokens_per_s",
    ):
        assert field in point
