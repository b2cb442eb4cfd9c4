"""`kubellm up`: the whole stack on this machine — engine replicas behind the gateway — in one command.

Only this layer prints; the work lives in :mod:`kubellm.local`.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from kubellm.local.bench import BenchOutcome
    from kubellm.local.runner import StackInfo
    from kubellm.spec import LLMService

_HELP = """Run a spec on this machine: engine replicas behind the gateway, health-gated, one Ctrl-C stops all.

The engine is vLLM when it is installed and a GPU is present, llama.cpp for GGUF models when
llama-cpp-python is installed, and the simulator otherwise; `up` says which and why. Without SPEC it
serves the quickstart (examples/quickstart.yaml), which needs no download, no GPU and no key.

Examples:

  kubellm up

  kubellm up my-model.yaml --port 9000 --replicas 2

  kubellm up --bench      # then a short sweep, the knee and manifests
"""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _load(spec_path: Path | None) -> tuple[LLMService, Path, Path, str]:
    """The spec, the file it came from, the folder relative model paths are taken from, and a label."""
    from importlib import resources

    from kubellm.spec import load_spec

    label = str(spec_path)
    if spec_path is None:
        spec_path = Path(str(resources.files("kubellm.local").joinpath("data", "quickstart.yaml")))
        label = "the built-in quickstart, as in examples/quickstart.yaml"
    spec = load_spec(spec_path)
    return spec, spec_path, spec_path.resolve().parent, label


def _short(path: str | Path) -> str:
    """``path`` relative to the current folder when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _print_ready(info: StackInfo) -> None:
    from kubellm.local.hints import curl_line, openai_snippet

    typer.echo("")
    typer.echo(
        f"ready in {info.startup_s:.1f} s: {len(info.replicas)} {info.engine} replica(s) of {info.served_name} behind the gateway"
    )
    typer.echo("")
    typer.echo(f"  endpoint  {info.endpoint}")
    typer.echo(f"  model     {info.served_name}")
    if info.api_key:
        typer.echo(f"  api key   {info.api_key}  (made for this run; the spec asks for keys)")
    typer.echo(f"  logs      {_short(info.run_dir)}/")
    typer.echo("")
    typer.echo("  " + curl_line(info.endpoint, info.served_name, info.api_key))
    typer.echo("")
    for line in openai_snippet(info.endpoint, info.served_name, info.api_key).splitlines():
        typer.echo("  " + line)
    typer.echo("")


def _print_bench(outcome: BenchOutcome) -> None:
    typer.echo(outcome.table)  # the bench CLI's own report: table, knee, files written
    if outcome.per_replica_note:
        typer.echo(outcome.per_replica_note)
    typer.echo("")
    if outcome.manifests_dir is not None:
        typer.echo(f"manifests for the same spec: {_short(outcome.manifests_dir)}/")
        typer.echo(f"  deploy them: kubectl apply -k {_short(outcome.manifests_dir)}")
    else:
        typer.echo(f"manifests not rendered: {outcome.render_error}")
    typer.echo("")


def up(
    spec_path: Path | None = typer.Argument(
        None, metavar="SPEC", help="LLMService spec; default: the quickstart example.", show_default=False
    ),
    port: int = typer.Option(8000, "--port", "-p", help="Port of the gateway on 127.0.0.1."),
    engine: str = typer.Option("auto", "--engine", help="auto, vllm, llamacpp or sim."),
    replicas: int | None = typer.Option(
        None, "--replicas", min=1, help="Engine replicas; default: scaling.min_replicas (at least 1)."
    ),
    run_dir: Path | None = typer.Option(
        None, "--run-dir", help="Folder for logs and configs; default: .kubellm/runs/<name>-<time>."
    ),
    api_keys_file: Path | None = typer.Option(
        None, "--api-keys-file", help="File of 'id:key' lines the gateway accepts."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=1, help="Seconds each engine may take to answer; default by engine."
    ),
    bench: bool = typer.Option(
        False, "--bench", help="After start: a short load sweep, the knee table and rendered manifests."
    ),
    exit_after_bench: bool = typer.Option(
        False, "--exit-after-bench", help="With --bench: stop everything after the report."
    ),
    bench_level_s: float = typer.Option(
        2.0, "--bench-level-s", min=0.1, help="With --bench: seconds measured at each concurrency level."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object when ready (and one after --bench) instead of text."
    ),
) -> None:
    from kubellm.errors import UsageError
    from kubellm.local import LocalStack, UpOptions

    if exit_after_bench and not bench:
        raise UsageError("--exit-after-bench needs --bench", "add --bench, or leave --exit-after-bench out")
    spec, source, spec_dir, label = _load(spec_path)
    options = UpOptions(
        port=port, engine=engine, replicas=replicas, run_dir=run_dir, api_keys_file=api_keys_file,
        timeout_s=timeout, spec_dir=spec_dir,
    )  # fmt: skip
    say: Callable[[str], None] = (lambda line: typer.echo(line, err=True)) if as_json else typer.echo
    status = _Progress(enabled=sys.stderr.isatty() and not as_json)
    stack = LocalStack(spec, options, say=lambda line: status.line(line, say), on_wait=status.waiting)

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        say(f"kubellm up: {spec.metadata.name} ({label})")
        choice = stack.decide()
        say(f"engine: {choice.engine.value} — {choice.reason}")
        if choice.engine.value == "sim" and stack.plan is not None:
            say(
                f"        the simulator imitates vLLM on {stack.plan.gpu}: planned KV cache, batching and speed, no GPU used"
            )
        if stack.plan_note:
            say(f"plan: {stack.plan_note}")
        info = stack.start()
        status.stop()
        if as_json:
            _emit_json({"event": "ready", **info.to_json_dict()})
        else:
            _print_ready(info)
        if bench:
            from kubellm.local.bench import run_bench

            say("bench: a short sweep through the gateway …")
            outcome = run_bench(info, spec_path=source, api_key=info.api_key, level_s=bench_level_s)
            if as_json:
                _emit_json({"event": "bench", **outcome.to_json_dict()})
            else:
                _print_bench(outcome)
            if exit_after_bench:
                return
        say("serving; Ctrl-C stops every process")
        stack.watch()
    except KeyboardInterrupt:
        status.stop()
        say("stopping …")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stack.stop()
            if stack.supervisor.children:
                say(f"stopped; logs in {_short(stack.run_dir)}/")
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, previous)


def _emit_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data))
    sys.stdout.flush()


class _Progress:
    """A spinner on a terminal while a process loads; plain lines elsewhere."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._status: Any = None

    def waiting(self, name: str, waited_s: float) -> None:
        if not self.enabled:
            return
        if self._status is None:
            from rich.console import Console

            self._status = Console(stderr=True).status("")
            self._status.start()
        self._status.update(f"waiting for {name} to answer … {waited_s:.0f} s")

    def line(self, text: str, say: Any) -> None:
        self.stop()
        say(text)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def register(app: typer.Typer) -> None:
    app.command(name="up", help=_HELP)(up)
