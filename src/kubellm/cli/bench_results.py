"""Running a benchmark from the CLI and showing its results: live progress, the summary, the exit code,
and reading configs and results files (the shell around ``kubellm.bench``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.bench.runner import BenchRun
    from kubellm.bench.runner import Progress as RunProgress
    from kubellm.spec.bench import BenchConfig, BenchPoint, BenchResults


def _print_point(console: Any, point: BenchPoint) -> None:
    from kubellm.bench.report import load_label

    errors = f", errors {point.error_count}" if point.error_count else ""
    lag = point.schedule_lag_ms.p99 if point.schedule_lag_ms else None
    errors += f", send lag p99 {lag:.1f} ms" if lag is not None else ""
    console.print(
        f"  {load_label(point)}: {point.requests_per_s:.1f} req/s, {point.output_tokens_per_s:.0f} out tok/s, "
        f"in flight {point.in_flight:.1f}, TTFT p95 {point.ttft_ms.p95 or 0:.1f} ms, "
        f"ITL p95 {point.itl_ms.p95 or 0:.1f} ms{errors}"
    )


def _execute(run: BenchRun, live: bool) -> BenchResults:
    """Run on uvloop when installed; with ``live`` show a progress bar on stderr."""
    import asyncio

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None

    if not live:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(run.run())

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None, status="")

        def on_progress(p: RunProgress) -> None:
            total = p.planned_s if p.planned_s else p.planned_requests
            done = p.elapsed_s if p.planned_s else p.completed
            bar.update(
                task,
                description=p.label,
                total=total,
                completed=done,
                status=f"{p.completed} done, {p.errors} errors, {p.in_flight} in flight",
            )

        run.on_progress = on_progress
        run.on_point = lambda point: _print_point(bar.console, point)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(run.run())


def _summary(results: BenchResults) -> list[str]:
    """Error lines a person can act on."""
    lines = []
    if results.aborted:
        lines.append(f"error: {results.aborted}")
    totals: dict[str, int] = {}
    for p in results.points:
        for kind, n in p.errors.items():
            totals[kind] = totals.get(kind, 0) + n
    if totals:
        lines.append("errors: " + ", ".join(f"{k} ×{v}" for k, v in sorted(totals.items())))
        seen: list[str] = []
        for p in results.points:
            seen.extend(s for s in p.error_samples if s not in seen)
        lines.extend(f"  {s}" for s in seen[:5])
    return lines


def show_results(results: BenchResults, written: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    from kubellm.bench.report import TABLE_HEADERS, knee_summary, table_rows

    console = Console(width=None if sys.stdout.isatty() else 160)
    for line in _summary(results):
        typer.echo(line, err=True)
    if results.points:
        table = Table(title=f"{results.metadata.config.model} — latencies in ms")
        for header in TABLE_HEADERS:
            table.add_column(header, justify="right")
        for row in table_rows(results):
            table.add_row(*row)
        console.print(table)
    console.print(knee_summary(results))
    if results.against is not None:
        show_against(console, results)
    if results.stop_reason:
        console.print(f"stopped: {results.stop_reason}")
    console.print(f"tokens: {results.metadata.token_source_note}", highlight=False)
    for path in written:
        console.print(f"wrote {path}")


def _exit_code(results: BenchResults) -> int:
    if results.aborted or not results.points:
        return 1
    return 1 if any(p.requests == 0 and p.error_count for p in results.points) else 0


def run_bench(
    config: BenchConfig,
    out: Path | None,
    as_json: bool,
    annotate: Callable[[BenchResults], None] | None = None,
) -> None:
    """Run, then ``annotate`` the results (e.g. predictions beside them), write, show, set the exit code."""
    from kubellm.bench.report import write_outputs
    from kubellm.bench.runner import BenchRun
    from kubellm.bench.workload import Tokenizer, build_workload

    tokenizer = Tokenizer(config.tokenizer) if config.tokenizer else None
    workload = build_workload(config, tokenizer)
    headers: dict[str, str] = {}
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise UsageError(
                f"--api-key-env {config.api_key_env}: the variable is not set",
                f"export {config.api_key_env}=<key>",
            )
        headers["Authorization"] = f"Bearer {key}"
    run = BenchRun(config, workload, headers, tokenizer.count if tokenizer else None)
    interrupted = False
    try:
        results = _execute(run, live=not as_json and sys.stderr.isatty())
    except KeyboardInterrupt:
        interrupted = True
        run.finish()
        run.results.aborted = run.results.aborted or "interrupted (Ctrl-C)"
        results = run.results
    if annotate is not None and results.points:
        annotate(results)
    written = write_outputs(results, out) if out else []
    if as_json:
        typer.echo(results.model_dump_json(indent=2))
        for line in _summary(results):
            typer.echo(line, err=True)
    else:
        show_results(results, written)
    if interrupted:
        raise typer.Exit(130)
    code = _exit_code(results)
    if code:
        raise typer.Exit(code)


def config_from_file(path: Path) -> BenchConfig:
    from kubellm.spec import validate_as
    from kubellm.spec.bench import BenchConfig

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", "give the bench.json that --render-job wrote") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})", "give the bench.json that --render-job wrote") from None
    return validate_as(BenchConfig, data, str(path))


def read_results(path: Path) -> BenchResults:
    from kubellm.spec import validate_as
    from kubellm.spec.bench import BenchResults

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", "give a results.json written by kubellm bench") from None
    start = text.find("{")  # `kubectl logs` output may carry lines before the JSON
    try:
        data = json.loads(text[start:] if start >= 0 else text)
    except ValueError as exc:
        raise UsageError(
            f"{path}: not JSON ({exc})", "give a results.json written by kubellm bench"
        ) from None
    return validate_as(BenchResults, data, str(path))


def show_against(console: Any, results: BenchResults) -> None:
    """Measured beside the plan's and the simulator's predictions, with the error of each."""
    from rich.table import Table

    from kubellm.sizing.compare import error_pct

    report = results.against
    assert report is not None
    title = (
        f"measured vs predicted on {report.replicas} × {report.gpus_per_replica} × {report.gpu}, {report.engine} "
        f"(calibration: {report.calibration}; spec {report.spec})"
    )
    table = Table(title=title)
    for header in ("load", "figure", "measured", "plan", "error", "sim", "error"):
        table.add_column(header, justify="left" if header in ("load", "figure") else "right")
    figures = (
        ("TTFT p50 ms", "ttft_p50_ms"),
        ("TTFT p95 ms", "ttft_p95_ms"),
        ("TPOT p50 ms", "tpot_p50_ms"),
        ("ITL p95 ms", "itl_p95_ms"),
        ("out tok/s", "output_tokens_per_s"),
    )

    def cell(value: float | None) -> str:
        return "–" if value is None else f"{value:,.1f}"

    def err(value: float | None) -> str:
        return "–" if value is None else f"{value:+.0f} %"

    for level in report.levels:
        for i, (label, key) in enumerate(figures):
            measured = getattr(level.measured, key)
            planned = getattr(level.plan, key)
            simulated = getattr(level.sim, key)
            table.add_row(
                level.load if i == 0 else "",
                label,
                cell(measured),
                cell(planned),
                err(error_pct(planned, measured)),
                cell(simulated),
                err(error_pct(simulated, measured)),
            )
    console.print(table)
