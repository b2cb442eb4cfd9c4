"""`kubellm sim`: a vLLM-like engine on a planned GPU, served over HTTP or replayed in virtual time."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.spec import LLMService

SIM_HELP = """Simulate a vLLM engine on a GPU you may not have: its KV cache, batching and speed come from the plan.

Serves vLLM's OpenAI API (/v1/models, /v1/completions, /v1/chat/completions with SSE streaming),
/health and /metrics (vLLM metric names) on --host/--port. Every request generates exactly max_tokens
filler tokens unless --stop-mean-tokens draws shorter outputs (ignore_eos still forces max_tokens).

With --virtual it serves nothing: it replays an arrival trace (--trace FILE, JSONL/CSV with
arrival_s, prompt_tokens, output_tokens) or Poisson traffic (--rate, --duration) through the same
scheduler without sleeping, and prints TTFT, ITL, TPOT and throughput.

Examples:

  kubellm sim --model meta-llama/Llama-3.1-8B-Instruct --gpu h100 --port 8000

  kubellm sim --model llama-3.1-8b --gpu l4 --time-scale 0.1 --api-key secret

  kubellm sim --model meta-llama/Llama-3.1-8B-Instruct --gpu h200 --virtual --rate 5 --duration 3600

  kubellm sim service.yaml --trace arrivals.jsonl --virtual --json
"""


def _service(spec_path: Path | None, model: str | None, gpu: str | None, **limits: int | None) -> LLMService:
    from kubellm.sim.config import service_from_flags

    if spec_path is not None:
        from kubellm.spec import load_spec

        spec = load_spec(spec_path)
        updates: dict[str, Any] = {}
        serving = {k: v for k, v in limits.items() if k != "tp" and v is not None}
        if serving:
            updates["serving"] = spec.serving.model_copy(update=serving)
        if gpu or limits.get("tp"):
            gpu_update: dict[str, Any] = {}
            if gpu:
                gpu_update["type"] = gpu
            if limits.get("tp"):
                gpu_update["count"] = limits["tp"]
            updates["gpu"] = spec.gpu.model_copy(update=gpu_update)
        return spec.model_copy(update=updates) if updates else spec
    if not model or not gpu:
        raise UsageError(
            "the simulator needs a model and a GPU", "give a SPEC file, or --model NAME --gpu TYPE"
        )
    return service_from_flags(
        model,
        gpu,
        tp=limits.get("tp"),
        max_num_seqs=limits.get("max_num_seqs"),
        max_model_len=limits.get("max_model_len"),
        max_num_batched_tokens=limits.get("max_num_batched_tokens"),
    )


def _print_virtual(summary: dict[str, Any], header: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(header)
    if not summary.get("completed"):
        console.print("no request completed")
        return
    table = Table(title="Latency (ms)")
    table.add_column("metric")
    for col in ("mean", "p50", "p90", "p95", "p99"):
        table.add_column(col, justify="right")
    for key, label in (
        ("ttft_ms", "TTFT"),
        ("itl_ms", "ITL"),
        ("tpot_ms", "TPOT"),
        ("e2e_ms", "E2E"),
        ("queue_ms", "queue"),
    ):
        stats = summary[key]
        table.add_row(
            label,
            *(
                f"{stats[c]:.2f}" if stats.get(c) is not None else "–"
                for c in ("mean", "p50", "p90", "p95", "p99")
            ),
        )
    console.print(table)
    console.print(
        f"{summary['completed']}/{summary['requests']} requests in {summary['duration_s']:.1f} s simulated — "
        f"{summary['request_throughput_per_s']:.2f} req/s, {summary['output_tokens_per_s']:.1f} output tok/s, "
        f"{summary['total_tokens_per_s']:.1f} total tok/s"
    )
    console.print(
        f"peak running {summary['peak_running']}, peak waiting {summary['peak_waiting']}, "
        f"peak KV usage {summary['peak_kv_usage'] * 100:.1f} %, preemptions {summary['preemptions']}, "
        f"prefix-cached prompt tokens {summary['prefix_cached_tokens']}"
    )
    console.print(
        f"simulated {summary['steps']:,} engine steps in {summary['simulation_wall_s']:.2f} s "
        f"({summary['simulation_cpu_s']:.2f} s of CPU)"
    )


def register(app: typer.Typer) -> None:
    @app.command("sim", help=SIM_HELP)
    def sim(
        spec_path: Path | None = typer.Argument(
            None, metavar="[SPEC]", help="LLMService spec (flags override it)."
        ),
        model: str | None = typer.Option(None, "--model", help="Model: Hugging Face id or catalog name."),
        gpu: str | None = typer.Option(None, "--gpu", help="GPU type by catalog name (h100, h200, l4, …)."),
        tp: int | None = typer.Option(None, "--tp", min=1, help="Tensor-parallel size (GPUs per replica)."),
        max_num_seqs: int | None = typer.Option(
            None, "--max-num-seqs", min=1, help="Cap on running sequences."
        ),
        max_model_len: int | None = typer.Option(None, "--max-model-len", min=16, help="Context length."),
        max_num_batched_tokens: int | None = typer.Option(
            None, "--max-num-batched-tokens", min=16, help="Token budget of one step."
        ),
        served_model_name: str | None = typer.Option(None, "--served-model-name", help="Name clients send."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
        port: int = typer.Option(8000, "--port", help="Port to serve on."),
        time_scale: float = typer.Option(
            1.0,
            "--time-scale",
            help="Wall seconds per simulated second (0.1 = ten times faster than the GPU).",
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of every random choice (output lengths, traffic)."),
        api_key: str | None = typer.Option(
            None, "--api-key", envvar="VLLM_API_KEY", help="Require this bearer key on /v1."
        ),
        prefix_caching: bool | None = typer.Option(
            None, "--prefix-caching/--no-prefix-caching", help="Prefix caching (default: the spec's, on)."
        ),
        stop_mean_tokens: float | None = typer.Option(
            None,
            "--stop-mean-tokens",
            min=1.0,
            help="Stop early after ~N tokens on average (exponential), unless ignore_eos.",
        ),
        virtual: bool = typer.Option(
            False, "--virtual", help="Replay traffic in virtual time instead of serving."
        ),
        trace: Path | None = typer.Option(None, "--trace", help="Arrival trace (.jsonl/.csv) for --virtual."),
        rate: float | None = typer.Option(None, "--rate", help="Poisson requests per second for --virtual."),
        duration: float = typer.Option(60.0, "--duration", help="Seconds of Poisson traffic for --virtual."),
        prompt_tokens: int = typer.Option(
            512, "--prompt-tokens", min=1, help="Prompt length of Poisson requests."
        ),
        output_tokens: int = typer.Option(
            256, "--output-tokens", min=1, help="Output length of Poisson requests."
        ),
        length_spread: float = typer.Option(
            0.0, "--length-spread", min=0.0, max=0.99, help="± fraction of length jitter."
        ),
        json_out: bool = typer.Option(False, "--json", help="With --virtual: print the report as JSON."),
    ) -> None:
        from kubellm.sim.config import planned_engine

        if time_scale <= 0 or math.isnan(time_scale):
            raise UsageError(
                f"--time-scale must be positive, got {time_scale}", "use e.g. 1.0 (real time) or 0.1"
            )
        spec = _service(
            spec_path, model, gpu, tp=tp, max_num_seqs=max_num_seqs, max_model_len=max_model_len,
            max_num_batched_tokens=max_num_batched_tokens,
        )  # fmt: skip
        the_plan, config, timer = planned_engine(
            spec, served_model_name=served_model_name, prefix_caching=prefix_caching, seed=seed,
            stop_mean_tokens=stop_mean_tokens,
        )  # fmt: skip
        header = (
            f"{config.served_model_name} on {the_plan.parallelism.gpus_per_replica} × {the_plan.gpu}: "
            f"{config.kv_tokens:,} KV tokens ({config.kv_blocks:,} blocks of {config.block_size}), "
            f"max_num_seqs {config.max_num_seqs}, max_num_batched_tokens {config.max_num_batched_tokens}, "
            f"max_model_len {config.max_model_len}, prefix caching {'on' if config.prefix_caching else 'off'}"
        )
        if virtual or trace is not None:
            if not virtual:
                raise UsageError("--trace replays in virtual time only", "add --virtual")
            _run_virtual(
                config,
                timer,
                trace,
                rate,
                duration,
                prompt_tokens,
                output_tokens,
                length_spread,
                seed,
                json_out,
                header,
            )
            return
        if rate is not None:
            raise UsageError("--rate drives a virtual-time replay", "add --virtual")
        _serve(config, timer, host, port, time_scale, api_key, header)


def _run_virtual(
    config: Any, timer: Any, trace: Path | None, rate: float | None, duration: float, prompt_tokens: int,
    output_tokens: int, length_spread: float, seed: int, json_out: bool, header: str,
) -> None:  # fmt: skip
    from kubellm.sim.trace import load_trace, poisson_trace
    from kubellm.sim.virtual import replay

    if trace is not None:
        requests = load_trace(trace)
        source = f"trace {trace} ({len(requests)} requests)"
    elif rate is not None:
        requests = poisson_trace(
            rate, duration, prompt_tokens, output_tokens, seed=seed, length_spread=length_spread
        )
        source = f"Poisson {rate:g} req/s for {duration:g} s, {prompt_tokens} in / {output_tokens} out"
    else:
        raise UsageError("--virtual needs traffic", "give --trace FILE or --rate R [--duration S]")
    summary = replay(config, timer, requests).summary()
    if json_out:
        typer.echo(
            json.dumps(
                {"engine": header, "traffic": source, **summary}, indent=2, allow_nan=False, default=_nan_none
            )
        )
        return
    _print_virtual(summary, f"{header}\n{source}")


def _nan_none(value: Any) -> Any:
    return None


def _serve(
    config: Any, timer: Any, host: str, port: int, time_scale: float, api_key: str | None, header: str
) -> None:
    import asyncio

    from aiohttp import web

    from kubellm.sim.core import SimCore
    from kubellm.sim.engine import RealTimeEngine
    from kubellm.sim.server import create_app

    async def _app() -> web.Application:
        engine = RealTimeEngine(SimCore(config, timer), time_scale=time_scale)
        return create_app(engine, api_key=api_key)

    typer.echo(header)
    typer.echo(f"serving the OpenAI API on http://{host}:{port}/v1 (time scale {time_scale:g}; Ctrl-C stops)")
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    web.run_app(_app(), host=host, port=port, print=None, access_log=None, loop=loop)
