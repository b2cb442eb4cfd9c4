"""`kubellm models` and `kubellm gpus`: list the catalog, and recommend models that fit a GPU.

Only this layer prints. The rows are plain dicts (:func:`model_row`, :func:`gpu_row`) so that the
table and ``--json`` show the same facts; the fit check lives in :mod:`kubellm.planning.recommend`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.catalog import GpuSpec, ModelArch

TASKS = ("chat", "code", "multilingual", "reasoning", "embedding")
ENGINES = ("vllm", "sglang", "tgi", "trtllm", "llamacpp")


def model_row(model: ModelArch) -> dict[str, Any]:
    """One model as plain JSON data: identity, license, serving facts and the figures the planner uses."""
    return {
        "name": model.name,
        "hf_id": model.hf_id,
        "family": model.family,
        "aliases": list(model.aliases),
        "architecture": model.architecture,
        "params": model.total_params,
        "params_b": round(model.total_params / 1e9, 2),
        "active_params_b": round(model.active_params / 1e9, 2),
        "weights_gib": round(model.weights_bytes_for(model.dtype, None) / 2**30, 2),
        "dtype": model.dtype,
        "quantization": model.quantization,
        "attention": model.attention_kind,
        "num_layers": model.num_layers,
        "num_attention_heads": model.num_attention_heads,
        "num_kv_heads": model.num_kv_heads,
        "head_dim": model.head_dim,
        "kv_bytes_per_token": model.kv_bytes_per_token(),
        "sliding_window": model.sliding_window,
        "num_sliding_layers": model.num_sliding_layers,
        "moe": {"experts": model.num_experts, "experts_per_token": model.experts_per_token}
        if model.is_moe
        else None,
        "max_context": model.max_position_embeddings,
        "encoder_decoder": model.encoder_decoder,
        "license": model.license,
        "commercial_use": model.commercial_use,
        "license_note": model.license_note,
        "gated": _gated(model.hf_id),  # a download needs a token of an account that accepted it
        "tasks": list(model.tasks),
        "engines": list(model.engines),
        "source_url": model.source_url,
    }


def _gated(hf_id: str) -> bool:
    from kubellm.catalog.access import gated_repo

    return gated_repo(hf_id) is not None


def gpu_row(gpu: GpuSpec) -> dict[str, Any]:
    """One GPU as plain JSON data: memory, speed, sharing, price and node labels."""
    return {
        "name": gpu.name,
        "aliases": list(gpu.aliases),
        "architecture": gpu.architecture,
        "compute_capability": gpu.compute_capability,
        "memory_gib": gpu.memory_gib,
        "memory_gb_nominal": gpu.memory_gb_nominal,
        "bandwidth_tbs": gpu.bandwidth_tbs,
        "bf16_tflops": gpu.bf16_tflops,
        "fp16_tflops": gpu.fp16_tflops,
        "fp8_tflops": gpu.fp8_tflops,
        "int8_tops": gpu.int8_tops,
        "supports_bf16": gpu.supports_bf16,
        "supports_fp8": gpu.supports_fp8,
        "nvlink_gbs": gpu.nvlink_gbs,
        "mig_profiles": [
            {
                "name": p.name,
                "memory_gib": p.memory_gib,
                "max_count": p.max_count,
                "resource": p.resource_name,
            }
            for p in gpu.mig_profiles
        ],
        "usd_per_hour": gpu.usd_per_hour,
        "price_basis": gpu.price_basis,
        "product_labels": list(gpu.product_labels),
        "cloud_labels": gpu.cloud_label_values(),
        "source": gpu.source,
        "notes": gpu.notes,
    }


def select_models(
    models: list[ModelArch], *, family: str | None, task: str | None, commercial: bool, engine: str | None
) -> list[ModelArch]:
    """The models that pass the listing filters (family is matched case-insensitively)."""
    chosen = []
    for model in models:
        if family and model.family.lower() != family.lower():
            continue
        if task and task not in model.tasks:
            continue
        if commercial and not model.commercial_use:
            continue
        if engine and engine not in model.engines:
            continue
        chosen.append(model)
    return chosen


def mig_profile_in(gpu_name: str) -> str | None:
    """The MIG profile in a GFD 'single'-strategy product label: 'NVIDIA-A100-SXM4-80GB-MIG-3g.40gb' → '3g.40gb'."""
    match = re.search(r"-mig-(\d+g\.\d+gb)$", gpu_name.strip().lower())
    return match.group(1) if match else None


def _check_choice(flag: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in choices:
        raise UsageError(f"{flag} {value!r} is not one of {', '.join(choices)}", f"pass {flag} {choices[0]}")
    return lowered


def _emit_json(rows: list[dict[str, Any]]) -> None:
    typer.echo(json.dumps(rows, indent=2))


def _b(value: float) -> str:
    return f"{value:.1f}B" if value >= 1 else f"{value * 1000:.0f}M"


def _print_models(models: list[ModelArch]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(models)} models", title_justify="left")
    for column in (
        "model",
        "family",
        "params",
        "attention",
        "KV/token",
        "context",
        "license",
        "commercial",
        "engines",
    ):
        table.add_column(column, overflow="fold")
    for m in models:
        params = _b(m.total_params / 1e9)
        if m.is_moe:
            params += f" ({_b(m.active_params / 1e9)} active)"
        table.add_row(
            m.name,
            m.family,
            params,
            m.attention_kind + (" +SWA" if m.num_sliding_layers else ""),
            f"{m.kv_bytes_per_token() / 1024:.0f} KiB",
            f"{m.max_position_embeddings:,}",
            _short_license(m.license),
            "yes" if m.commercial_use else "no",
            ",".join(m.engines),
        )
    Console().print(table)


def _print_gpus(gpus: list[GpuSpec]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(gpus)} GPUs", title_justify="left")
    for column in ("gpu", "memory", "bandwidth", "bf16", "fp8", "cc", "NVLink", "MIG", "$/h", "node label"):
        table.add_column(column, overflow="fold")
    for g in gpus:
        table.add_row(
            g.name,
            f"{g.memory_gib:g} GiB",
            f"{g.bandwidth_tbs:g} TB/s",
            f"{g.bf16_tflops:g}" if g.bf16_tflops else "-",
            f"{g.fp8_tflops:g}" if g.fp8_tflops else "-",
            g.compute_capability,
            f"{g.nvlink_gbs:g} GB/s" if g.nvlink_gbs else "-",
            str(len(g.mig_profiles)) + " profiles" if g.mig_profiles else "-",
            f"{g.usd_per_hour:g}" if g.usd_per_hour else "-",
            g.product_labels[0] if g.product_labels else "",
        )
    Console().print(table)


def _short_license(license_text: str) -> str:
    return license_text.split(" (")[0]


def _print_recommendations(rows: list[dict[str, Any]], header: str) -> None:
    from rich.console import Console
    from rich.table import Table

    fitting = [r for r in rows if r["fits"]]
    table = Table(title=header, title_justify="left")
    for column in ("model", "params", "setup", "weights", "KV cache", "requests", "license", "commercial"):
        table.add_column(column, overflow="fold")
    for r in fitting:
        table.add_row(
            r["model"],
            _b(r["params_b"]),
            f"TP {r['tensor_parallel']}" + (f" {r['quantization']}" if r["quantization"] else ""),
            f"{r['weights_gib']:.1f} GiB",
            f"{r['kv_tokens']:,} tok",
            f"{r['max_concurrency']:.1f} × {r['max_model_len']:,}",
            _short_license(r["license"]),
            "yes" if r["commercial_use"] else "no",
        )
    console = Console()
    console.print(table)
    for r in rows:
        if not r["fits"]:
            console.print(f"  does not fit: {r['model']}: {r['why']}", highlight=False)
    if not fitting:
        console.print("No catalog model fits; try a shorter --context, more --gpus or a bigger GPU.")


def models_command(
    fits: str | None = typer.Option(
        None, "--fits", metavar="GPU", help="Recommend the models that fit this GPU (e.g. l4, h100)."
    ),
    gpus: int = typer.Option(1, "--gpus", min=1, help="GPUs per replica for --fits (tensor parallel)."),
    mig: str | None = typer.Option(
        None,
        "--mig",
        metavar="PROFILE",
        help="With --fits, one MIG slice of the GPU instead (e.g. 3g.40gb; see `kubellm gpus --json`).",
    ),
    context: int | None = typer.Option(
        None,
        "--context",
        min=16,
        help="Context length for --fits (default: 8192, or the model's own if shorter; "
        "a model whose context is shorter than an explicit --context does not fit).",
    ),
    commercial: bool = typer.Option(
        False, "--commercial", help="Only models whose license allows commercial use."
    ),
    task: str | None = typer.Option(None, "--task", help=f"Only models for this task: {', '.join(TASKS)}."),
    family: str | None = typer.Option(None, "--family", help="Only this family (e.g. Llama, Qwen)."),
    engine: str | None = typer.Option(
        None, "--engine", help=f"Only models this engine serves: {', '.join(ENGINES)}."
    ),
    show_all: bool = typer.Option(
        False, "--all", help="With --fits, also list the models that do not fit, and why."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of objects instead of a table."),
) -> None:
    """List the model catalog, or recommend the models that fit a GPU.

    Example: kubellm models --fits l4 --commercial --task chat
    """
    from kubellm.catalog import default_catalog

    task = _check_choice("--task", task, TASKS)
    engine = _check_choice("--engine", engine, ENGINES)
    catalog = default_catalog()
    chosen = select_models(catalog.models, family=family, task=task, commercial=commercial, engine=engine)
    if fits is None:
        if as_json:
            _emit_json([model_row(m) for m in chosen])
        else:
            _print_models(chosen)
        return
    from kubellm.planning.recommend import recommend

    gpu = catalog.gpu(fits)
    mig = mig or mig_profile_in(fits)
    found = recommend(
        chosen,
        gpu,
        gpus=gpus,
        context=context,
        engine=engine or "vllm",
        mig_profile=mig,
        include_rejected=show_all,
    )
    rows = [r.to_json_dict() for r in found]
    if as_json:
        _emit_json(rows)
    else:
        where = f"{gpus}× {gpu.name}" if gpus > 1 else f"one {gpu.name}"
        if mig:
            where = f"one {gpu.name} MIG {mig.lower()} slice"
        fitting = sum(1 for r in rows if r["fits"])
        _print_recommendations(rows, f"{fitting} models fit {where}")


def gpus_command(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of objects instead of a table."),
) -> None:
    """List the GPU catalog: memory as torch reports it, speed, MIG profiles, price and node labels.

    Example: kubellm gpus --json
    """
    from kubellm.catalog import default_catalog

    catalog = default_catalog()
    if as_json:
        _emit_json([gpu_row(g) for g in catalog.gpus])
    else:
        _print_gpus(catalog.gpus)


def register(app: typer.Typer) -> None:
    """Add `models` and `gpus` to the root command."""

    app.command("models")(models_command)

    app.command("gpus")(gpus_command)
