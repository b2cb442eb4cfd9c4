"""Root of the `kubellm` command: registers each command group and turns errors into one line.

Each command module exposes ``register(app)`` and imports its heavy dependencies inside the
commands, so that ``kubellm --help`` starts fast.
"""

from __future__ import annotations

import sys

import typer

from kubellm import __version__
from kubellm.errors import KubellmError

app = typer.Typer(
    name="kubellm",
    help=(
        "Plan, render, lint, serve, load-test and diagnose self-hosted LLMs on Kubernetes with NVIDIA GPUs.\n\n"
        "Start here:  kubellm plan --model meta-llama/Llama-3.1-8B-Instruct --gpu l4"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubellm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """kubellm: LLM serving on Kubernetes, planned, checked and measured."""
    _state["debug"] = debug


_state: dict[str, bool] = {"debug": False}


# Command groups in the order `kubellm --help` lists them. Each module keeps its imports light.
COMMAND_MODULES = (
    "plan",
    "spec",
    "catalog",
    "render",
    "lint",
    "apply",
    "operator",
    "doctor",
    "up",
    "sim",
    "gateway",
    "bench",
)


def _register_all() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"kubellm.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"kubellm.cli.{name}":
                continue  # that command group is not part of this build yet
            raise
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry: run the app, print `error: <what> — <fix>` instead of tracebacks."""
    debug = "--debug" in sys.argv
    try:
        app()
    except KubellmError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
