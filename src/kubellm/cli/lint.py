"""`kubellm lint`: the GPU and LLM mistakes generic linters miss, plus the generic checks."""

from __future__ import annotations

from pathlib import Path

import typer

from kubellm.errors import UsageError

LINT_HELP = """Lint Kubernetes manifests for LLM serving on NVIDIA GPUs.

Reads files, directories (recursively, *.yaml/*.yml) or '-' for stdin: multi-document YAML, List
kinds, Helm and Kustomize output. Understands core workloads and KEDA ScaledObject, LeaderWorkerSet,
KServe InferenceService/ServingRuntime, KubeAI Model and ServiceMonitor. Engine arguments of vLLM,
SGLang, TGI, Triton/TensorRT-LLM, llama.cpp and Ollama are parsed, shell-wrapped or not.

Exit status: 0 clean, 1 errors (or warnings with --strict), 2 usage errors.

Examples:

  kubellm lint deploy/

  helm template my-release chart/ | kubellm lint - --format sarif > lint.sarif

  kubellm lint k8s.yaml --gpu l4 --ignore GPU018,SEC005 --strict

  kubellm lint --explain GPU005
"""


def _ids(values: list[str]) -> list[str]:
    return [part.strip().upper() for value in values for part in value.split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    @app.command("lint", help=LINT_HELP)
    def lint_command(
        paths: list[str] = typer.Argument(None, help="Files, directories or '-' (stdin)."),
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text, json, sarif, github."),
        as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
        select: list[str] = typer.Option([], "--select", help="Only these rule ids or prefixes (comma-separated, repeatable)."),
        ignore: list[str] = typer.Option([], "--ignore", help="Skip these rule ids or prefixes (comma-separated, repeatable)."),
        gpu: str | None = typer.Option(None, "--gpu", "-g", help="GPU the workloads run on when the manifests do not say (l4, h100, …)."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
        config: Path | None = typer.Option(None, "--config", help="Settings file (.kubellm.yaml or pyproject.toml); default: the nearest one."),
        no_config: bool = typer.Option(False, "--no-config", help="Ignore .kubellm.yaml / pyproject.toml settings."),
        explain: str | None = typer.Option(None, "--explain", help="Explain one rule (what, why, example, fix) and exit."),
        list_rules: bool = typer.Option(False, "--list-rules", help="List every rule and exit."),
        rules_doc: bool = typer.Option(False, "--rules-doc", help="Print docs/rules.md (generated from the rules) and exit."),
    ) -> None:  # fmt: skip
        from kubellm.lint.config import LintConfig, find_config, load_config
        from kubellm.lint.docs import explain as explain_rule
        from kubellm.lint.docs import rules_markdown
        from kubellm.lint.output import FORMATS, render
        from kubellm.lint.registry import all_rules, get_rule

        if explain:
            found = get_rule(explain)
            if found is None:
                raise UsageError(f"no lint rule {explain!r}", "run `kubellm lint --list-rules` for the ids")
            typer.echo(explain_rule(found.meta))
            return
        if list_rules:
            for r in all_rules():
                typer.echo(f"{r.meta.id:<9} {r.meta.severity.value:<8} {r.meta.name:<34} {r.meta.title}")
            return
        if rules_doc:
            typer.echo(rules_markdown(), nl=False)
            return
        if as_json:
            fmt = "json"
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
        if not paths:
            raise UsageError(
                "nothing to lint", "give files, directories or '-' for stdin (see kubellm lint --help)"
            )
        settings = LintConfig() if no_config else load_config(config) if config else find_config()
        select_ids = [*settings.select, *_ids(select)]
        ignore_ids = [*settings.ignore, *_ids(ignore)]
        known = [r.meta.id for r in all_rules()]
        for given in _ids(select) + _ids(ignore):
            if not any(rule_id.startswith(given) for rule_id in known):
                raise UsageError(
                    f"--select/--ignore {given!r} matches no rule", "run `kubellm lint --list-rules`"
                )
        gpu_spec = None
        gpu_name = gpu or settings.gpu
        if gpu_name:
            from kubellm.catalog import default_catalog

            gpu_spec = default_catalog().gpu(gpu_name)
        import gc

        from kubellm.lint.loader import load_paths
        from kubellm.lint.runner import LintOptions, lint_loaded

        gc.disable()  # a short batch run that builds many small objects and no cycles: GC only costs time
        loaded = load_paths(paths)
        result = lint_loaded(loaded, LintOptions(select=select_ids, ignore=ignore_ids, gpu=gpu_spec))
        text = render(result, fmt)
        if text:
            typer.echo(text)
        failing = result.count_errors() + (result.count_warnings() if strict or settings.strict else 0)
        if failing:
            raise typer.Exit(1)
