"""`kubellm bench` (load test, find the knee), `kubellm bench merge` and `kubellm tune`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from kubellm.cli.bench_results import config_from_file, read_results, run_bench, show_results
from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.spec import LLMService
    from kubellm.spec.bench import BenchResults, SloTarget

BENCH_HELP = """Load-test an OpenAI-compatible server and find each replica's knee.

URL is the server's base URL, with or without /v1. Closed loop (--concurrency) keeps N requests in
flight; open loop (--rate) starts requests on a Poisson or constant schedule that never waits for
responses, and reports how far sending fell behind. --sweep doubles the load until an SLO breaks or
throughput stops rising. Durations are in seconds.

Examples:

  kubellm bench http://localhost:8000 --model qwen3-0.6b --concurrency 1,8,32 --duration 30

  kubellm bench http://localhost:8000/v1 -m llama --sweep --slo ttft_p95=500ms,itl_p95=50ms --out results/

  kubellm bench https://llm.example.com -m llama --rate 2,5,10 --arrival poisson --api-key-env LLM_KEY

  kubellm bench http://llm.svc:8000 -m llama -c 64,128 --render-job --pods 4 --image ghcr.io/org/kubellm:0.1.0

  kubellm bench http://localhost:8000 -m llama -c 1,8,32 --against service.yaml   # predicted vs measured

  kubellm bench merge pod-0.json pod-1.json --out merged/
"""

MERGE_HELP = """Combine the results.json files of several client pods into one report.

Example:

  kubellm bench merge pod-*.json --out merged/
"""

TUNE_HELP = """Write a benchmark's knee into a spec: serving.target_concurrency and scaling.target.

The knee is judged against the spec's serving.slo: the SLO knee (highest load meeting it) and the
throughput knee; the lower one, per replica (loads measured through a gateway are divided by the
replicas behind it), is what the spec gets. Without -o the tuned spec is printed; --in-place
rewrites SPEC, keeping its comments and order. One measured level is no curve: tune refuses it.

Examples:

  kubellm tune service.yaml --from results/results.json -o tuned.yaml

  kubellm tune service.yaml --from results/results.json --in-place
"""

_SLO_ITEM = re.compile(r"^(ttft|tpot|itl|e2e)(?:_(mean|p50|p90|p95|p99))?=([0-9.]+)\s*(ms|s)?$")


class BenchGroup(TyperGroup):
    """`kubellm bench URL …` runs a benchmark; `kubellm bench merge …` merges results."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["run", *args]  # `kubellm bench --help` shows the run options too
        return super().parse_args(ctx, args)


class BenchRunCommand(TyperCommand):
    """The hidden `run` command, whose usage line reads as `kubellm bench URL …`."""

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        path = ctx.command_path.removesuffix(" run")
        formatter.write_usage(path, "URL --model NAME [OPTIONS]   |   merge FILES… [--out DIR]")


def parse_slo(text: str | None) -> list[SloTarget]:
    """``ttft_p95=500ms,itl_p95=50ms`` → SLO targets (statistic p95 when left out; ms when no unit)."""
    from kubellm.spec.bench import SloTarget

    targets: list[SloTarget] = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        m = _SLO_ITEM.match(item)
        if not m:
            raise UsageError(
                f"--slo: cannot read {item!r}",
                "write METRIC_STAT=LIMIT with METRIC ttft|tpot|itl|e2e, STAT mean|p50|p90|p95|p99, e.g. ttft_p95=500ms",
            )
        metric, stat, value, unit = m.groups()
        limit_ms = float(value) * (1000.0 if unit == "s" else 1.0)
        targets.append(SloTarget(metric=metric, stat=stat or "p95", limit_ms=limit_ms))
    return targets


def _numbers(text: str | None, flag: str, as_int: bool) -> list[Any]:
    if not text:
        return []
    try:
        values = [int(v) if as_int else float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(
            f"{flag}: expected comma-separated numbers, got {text!r}", f"e.g. {flag} 1,2,4,8"
        ) from None
    if any(v <= 0 for v in values):
        raise UsageError(f"{flag}: every level must be above 0", f"e.g. {flag} 1,2,4,8")
    return values


def bench_run(
    url: str | None = typer.Argument(None, help="Server base URL, with or without /v1."),
    model: str | None = typer.Option(None, "--model", "-m", help="Model name the server serves."),
    api: str = typer.Option(
        "chat", "--api", help="chat (/v1/chat/completions) or completions (/v1/completions)."
    ),
    concurrency: str | None = typer.Option(
        None, "--concurrency", "-c", help="Closed-loop levels, e.g. 1,8,32."
    ),
    rate: str | None = typer.Option(
        None, "--rate", "-r", help="Open-loop arrival rates in requests/s, e.g. 1,2,5."
    ),
    arrival: str = typer.Option("poisson", "--arrival", help="Open-loop arrivals: poisson or constant."),
    sweep: bool = typer.Option(
        False, "--sweep", help="Double the load until an SLO breaks or throughput plateaus."
    ),
    sweep_max: float = typer.Option(1024, "--sweep-max", help="Highest level a sweep tries."),
    plateau_gain: float = typer.Option(
        0.10, "--plateau-gain", help="A doubling must add this fraction of throughput."
    ),
    duration: float | None = typer.Option(None, "--duration", "-d", help="Seconds per level (default 30)."),
    requests: int | None = typer.Option(
        None, "--requests", "-n", help="Requests per level, instead of --duration."
    ),
    warmup: float = typer.Option(
        0.0, "--warmup", help="Seconds of load before each level's window, not counted."
    ),
    ramp_up: float = typer.Option(
        0.0,
        "--ramp-up",
        help="Closed loop: start workers evenly over this many seconds (within --warmup).",
    ),
    timeout: float = typer.Option(600.0, "--timeout", help="Per-request timeout, seconds."),
    slo: str | None = typer.Option(None, "--slo", help="Objectives, e.g. ttft_p95=500ms,itl_p95=50ms."),
    input_tokens: int = typer.Option(256, "--input-tokens", help="Mean prompt length, tokens."),
    output_tokens: int = typer.Option(
        128, "--output-tokens", help="Mean output length, tokens (max_tokens)."
    ),
    length_dist: str = typer.Option("fixed", "--length-dist", help="fixed, uniform, normal or lognormal."),
    length_spread: float = typer.Option(0.25, "--length-spread", help="Relative spread of the lengths."),
    shared_prefix: float = typer.Option(
        0.0, "--shared-prefix", help="Fraction of each prompt shared by all (0–1)."
    ),
    dataset: str | None = typer.Option(None, "--dataset", help="ShareGPT-format JSON file of prompts."),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="Local tokenizer.json (needs 'tokenizers')."
    ),
    ignore_eos: bool = typer.Option(True, "--ignore-eos/--no-ignore-eos", help="Ask for exactly max_tokens."),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Environment variable with the API key."
    ),
    insecure: bool = typer.Option(False, "--insecure", help="Do not verify the server's TLS certificate."),
    seed: int = typer.Option(0, "--seed", help="Seed of lengths, prompts and arrivals."),
    prompts: int = typer.Option(512, "--prompts", help="Distinct request bodies built before the run."),
    config_file: Path | None = typer.Option(
        None, "--config", help="Run a bench.json (as --render-job writes)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write results.json, latency.png, report.html here."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print results.json on stdout instead of the table."),
    render_job: bool = typer.Option(
        False, "--render-job", help="Print a Kubernetes Job + ConfigMap instead."
    ),
    pods: int = typer.Option(1, "--pods", help="--render-job: client pods sharing the load."),
    image: str | None = typer.Option(None, "--image", help="--render-job: image with kubellm installed."),
    namespace: str = typer.Option("default", "--namespace", help="--render-job: namespace of the Job."),
    job_name: str = typer.Option("kubellm-bench", "--job-name", help="--render-job: name of the Job."),
    api_key_secret: str | None = typer.Option(
        None, "--api-key-secret", help="--render-job: Secret with key 'api-key'."
    ),
    against: Path | None = typer.Option(
        None,
        "--against",
        help="An LLMService spec: put its plan's and simulator's predictions beside each level "
        "(and judge levels against its serving.slo unless --slo is given).",
    ),
    replicas: int = typer.Option(
        1, "--replicas", min=1, help="Engine replicas behind the URL (a gateway): loads are totals."
    ),
) -> None:
    from pydantic import ValidationError

    from kubellm.spec.bench import BenchConfig

    spec = _against_spec(against)
    if spec is not None and not slo:
        from kubellm.sizing.slo import slo_targets

        slo_text = ",".join(f"{t.metric}_{t.stat}={t.limit_ms:g}ms" for t in slo_targets(spec.serving.slo))
    else:
        slo_text = slo or ""

    if config_file is not None:
        config = config_from_file(config_file)
    else:
        if not url or not model:
            raise UsageError(
                "a URL and --model are required", "e.g. kubellm bench http://localhost:8000 -m llama"
            )
        if concurrency and rate:
            raise UsageError(
                "--concurrency and --rate exclude each other", "run closed and open loop separately"
            )
        if duration is not None and requests is not None:
            raise UsageError("--duration and --requests exclude each other", "give one of them")
        try:
            config = BenchConfig(
                url=url,
                model=model,
                api=api,
                concurrency=_numbers(concurrency, "--concurrency", True),
                rate=_numbers(rate, "--rate", False),
                arrival=arrival,
                sweep=sweep,
                sweep_max=sweep_max,
                plateau_gain=plateau_gain,
                duration_s=duration if duration is not None or requests is not None else 30.0,
                requests=requests,
                warmup_s=warmup,
                ramp_up_s=ramp_up,
                timeout_s=timeout,
                slo=parse_slo(slo_text),
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                length_dist=length_dist,
                length_spread=length_spread,
                shared_prefix=shared_prefix,
                dataset=dataset,
                tokenizer=tokenizer,
                ignore_eos=ignore_eos,
                api_key_env=api_key_env,
                verify_tls=not insecure,
                seed=seed,
                prompts=prompts,
                replicas=replicas,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            raise UsageError(
                f"--{field.replace('_', '-')}: {err['msg']}", "see kubellm bench --help"
            ) from None
    if render_job:
        import yaml

        from kubellm import RELEASE_IMAGE
        from kubellm.bench.job import render_job as render

        objects = render(
            config,
            pods=pods,
            image=image or RELEASE_IMAGE,
            name=job_name,
            namespace=namespace,
            api_key_secret=api_key_secret,
        )
        typer.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)
        return
    annotate = None
    if spec is not None and against is not None:
        from kubellm.sizing.compare import compare

        def annotate(results: BenchResults, spec: LLMService = spec, name: str = str(against)) -> None:
            results.against = compare(results, spec, name)

    run_bench(config, out, as_json, annotate)


def _against_spec(path: Path | None) -> LLMService | None:
    if path is None:
        return None
    from kubellm.spec import load_spec

    return load_spec(path)


def bench_merge(
    files: list[Path] = typer.Argument(
        ..., help="results.json files (or `kubectl logs` output) of each pod."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write results.json, latency.png, report.html here."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the merged results.json on stdout."),
) -> None:
    from kubellm.bench.merge import merge_results
    from kubellm.bench.report import write_outputs

    merged = merge_results([read_results(f) for f in files])
    written = write_outputs(merged, out) if out else []
    if as_json:
        typer.echo(merged.model_dump_json(indent=2))
    else:
        show_results(merged, written)


def tune(
    spec_path: Path = typer.Argument(..., help="LLMService spec file."),
    results_path: Path = typer.Option(..., "--from", help="results.json of kubellm bench (or bench merge)."),
    output: str | None = typer.Option(
        None, "--output", "-o", help="Write the tuned spec here ('-' = stdout)."
    ),
    in_place: bool = typer.Option(False, "--in-place", help="Rewrite SPEC itself (comments and order kept)."),
    replicas: int | None = typer.Option(
        None, "--replicas", min=1, help="Replicas the bench measured through (default: what the results say)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the changes as JSON."),
) -> None:
    from kubellm.bench.tune import tune_spec
    from kubellm.spec import load_spec
    from kubellm.spec.yaml_edit import edit_yaml

    if output is not None and in_place:
        raise UsageError("--output and --in-place exclude each other", "give one of them")
    spec = load_spec(spec_path)
    tuning = tune_spec(spec, read_results(results_path), replicas)
    text = edit_yaml(spec_path.read_text(encoding="utf-8"), tuning.edits, str(spec_path))
    target = str(spec_path) if in_place else output
    to_stdout = target in (None, "-")
    if to_stdout:
        typer.echo(text, nl=False)
    else:
        Path(str(target)).write_text(text, encoding="utf-8")
    if as_json:
        typer.echo(
            json.dumps({"written": None if to_stdout else target, "changes": tuning.changes}, indent=2),
            err=to_stdout,
        )
        return
    for line in tuning.changes:
        typer.echo(line, err=to_stdout)
    if target is None:
        typer.echo(
            f"nothing written: -o FILE writes the tuned spec, --in-place rewrites {spec_path}", err=True
        )
    elif not to_stdout:
        typer.echo(f"wrote {target}")


def register(app: typer.Typer) -> None:
    bench_app = typer.Typer(
        cls=BenchGroup, help=BENCH_HELP, no_args_is_help=False, rich_markup_mode=None, add_completion=False
    )

    bench_app.command("run", cls=BenchRunCommand, help=BENCH_HELP, hidden=True, no_args_is_help=True)(
        bench_run
    )

    bench_app.command("merge", help=MERGE_HELP, no_args_is_help=True)(bench_merge)

    app.add_typer(bench_app, name="bench", help=BENCH_HELP.split("\n")[0])

    app.command("tune", help=TUNE_HELP, no_args_is_help=True)(tune)
