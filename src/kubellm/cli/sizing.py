"""`kubellm plan --slo … --traffic …`: the cheapest configuration that meets the latency targets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.sizing.candidate import SizingResult
    from kubellm.spec import LLMService

DEFAULT_GPUS = ("l4", "a10g", "l40s", "a100-40gb", "a100-80gb", "h100", "h200", "b200")
TABLE_ROWS = 20


def parse_prices(text: str | None) -> dict[str, float]:
    """``h200=3.7,b200=6`` → {catalog GPU name: USD per GPU-hour}."""
    from kubellm.catalog import default_catalog

    prices: dict[str, float] = {}
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        try:
            price = float(value)
        except ValueError:
            price = -1.0
        if not sep or price < 0:
            raise UsageError(
                f"--price: cannot read {item!r}", "write GPU=USD per GPU-hour, e.g. --price h200=3.7,b200=6"
            )
        prices[default_catalog().gpu(name.strip()).name] = price
    return prices


def run_sizing(
    service: LLMService,
    *,
    slo_text: str | None,
    traffic_text: str | None,
    gpus_text: str | None,
    budget: float | None,
    prices_text: str | None,
    quantizations_text: str,
    output: Path | None,
    as_json: bool,
    command: str,
) -> None:
    from kubellm.catalog import default_catalog, resolve_model
    from kubellm.sizing.search import SizingSearch
    from kubellm.sizing.slo import parse_slo
    from kubellm.sizing.traffic import parse_traffic

    if not slo_text or not traffic_text:
        raise UsageError(
            "sizing needs both --slo and --traffic",
            "e.g. kubellm plan --model llama-3.1-8b --slo ttft_p95_ms=1000,itl_p95_ms=50 --traffic rate=20,prompt=2048,output=300",
        )
    if budget is not None and budget <= 0:
        raise UsageError("--budget-usd-hour must be above 0", "e.g. --budget-usd-hour 40")
    catalog = default_catalog()
    names = [g.strip() for g in (gpus_text or ",".join(DEFAULT_GPUS)).split(",") if g.strip()]
    gpus = list({catalog.gpu(name).name: catalog.gpu(name) for name in names}.values())
    quantizations = [q.strip() for q in quantizations_text.split(",") if q.strip()]
    model = resolve_model(service.model.planning_name, service.model.config, catalog)
    search = SizingSearch(
        service,
        model,
        parse_traffic(traffic_text),
        parse_slo(slo_text, service.serving.slo),
        gpus,
        prices=parse_prices(prices_text),
        quantizations=quantizations,
        budget_usd_hour=budget,
        policy=service.gateway.routing,
    )
    result = _run_with_progress(search, live=not as_json and sys.stderr.isatty())
    if as_json:
        typer.echo(json.dumps(result.to_json_dict(), indent=2))
    else:
        render_table(result)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if result.winner is None:
        raise typer.Exit(1)
    if output is not None:
        from kubellm.sizing.winner import winner_yaml

        text = winner_yaml(result, command)
        if str(output) == "-":
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {output}", err=as_json)


def _run_with_progress(search: Any, live: bool) -> SizingResult:
    if not live:
        result: SizingResult = search.run()
        return result
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("planning", total=None)

        def on_progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        search.progress = on_progress
        result = search.run()
        return result


def render_table(result: SizingResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    slo = result.slo
    table = Table(
        title=f"Sizing for {result.traffic.label}; SLO TTFT p95 ≤ {slo.ttft_p95_ms:g} ms, ITL p95 ≤ {slo.itl_p95_ms:g} ms"
    )
    for header in (
        "#",
        "replicas × shape",
        "seqs/chunk",
        "TTFT p95",
        "ITL p95",
        "out tok/s",
        "$/h",
        "$/1M out",
        "verdict",
    ):
        table.add_column(header, justify="left" if header in ("replicas × shape", "verdict") else "right")
    for i, c in enumerate(result.candidates[:TABLE_ROWS]):
        p = c.prediction
        limits = f"{c.plan.settings.max_num_seqs}/{c.plan.settings.max_num_batched_tokens}" if c.plan else "-"
        per_m = c.usd_per_million_output_tokens
        table.add_row(
            "★" if i == result.best else str(i),
            f"{c.replicas or '-'} × {c.shape.label}",
            limits,
            f"{p.ttft_ms.p95:,.0f}" if p and p.ttft_ms.p95 is not None else "-",
            f"{p.itl_ms.p95:.1f}" if p and p.itl_ms.p95 is not None else "-",
            f"{p.output_tokens_per_s:,.0f}" if p else "-",
            f"{c.usd_per_hour:,.2f}" if c.usd_per_hour is not None else "-",
            f"{per_m:,.3f}" if per_m is not None else "-",
            c.why,
        )
    console.print(table)
    hidden = len(result.candidates) - TABLE_ROWS
    if hidden > 0:
        console.print(f"… {hidden} more candidates (--json lists all)")
    winner = result.winner
    if winner is not None:
        console.print(f"[bold]best:[/bold] {winner.replicas} × {winner.shape.label}", highlight=False)
