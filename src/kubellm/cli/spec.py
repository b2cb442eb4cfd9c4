"""`kubellm schema` and `kubellm init`: the spec's JSON Schema, and a complete commented spec to start from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from kubellm.planning import Plan
    from kubellm.spec import LLMService

INIT_HELP = """Write a complete, commented LLMService spec that `kubellm plan` and `kubellm render` accept.

Without --gpus the planner picks the GPUs per replica: the smallest valid tensor-parallel size that
fits, else fp8 quantization (and says so on stderr).

Examples:

  kubellm init --model meta-llama/Llama-3.1-8B-Instruct --gpu l4 --hf-token-secret hf-token -o llama.yaml

  kubellm init --model Llama-3.3-70B-Instruct --gpu h100 --gpus 2 --engine sglang

  kubellm init -m meta-llama/Llama-3.1-8B-Instruct -g l4 --provider gke --hf-token-secret hf-token
"""


def _scalar(value: Any) -> str:
    import yaml

    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def commented_yaml(model: BaseModel, indent: int = 0) -> list[str]:
    """Every field of ``model`` as YAML, each preceded by its description as a comment."""
    from pydantic import BaseModel as PydanticModel

    lines: list[str] = []
    pad = "  " * indent
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if info.description:
            lines.append(f"{pad}# {info.description}")
        if isinstance(value, PydanticModel):
            lines.append(f"{pad}{name}:")
            lines.extend(commented_yaml(value, indent + 1))
        else:
            dumped = value.value if hasattr(value, "value") else value
            if isinstance(dumped, list) and dumped and isinstance(dumped[0], PydanticModel):
                dumped = [item.model_dump(mode="json", exclude_none=True) for item in dumped]
            if dumped is None:
                lines.append(f"{pad}{name}: null")
            else:
                lines.append(f"{pad}{name}: {_scalar(dumped)}")
    return lines


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.split("/")[-1].lower()).strip("-")
    return slug[:40].strip("-") or "llm"


def choose_layout(service: LLMService) -> tuple[LLMService, Plan, list[str]]:
    """Plan with the GPU count left open; fall back to fp8 when no tensor-parallel size fits."""
    from kubellm.planning import plan

    notes: list[str] = []
    result = plan(service)
    if not result.fits and service.model.quantization == "none":
        quantized = service.model_copy(
            update={"model": service.model.model_copy(update={"quantization": "fp8"})}
        )
        q_result = plan(quantized)
        if q_result.fits:
            notes.append("no tensor-parallel size fits in bf16 on this GPU: chose fp8 quantization")
            service, result = quantized, q_result
    if result.fits:
        count = result.parallelism.gpus_per_replica
        notes.append(f"chose {count} GPU(s) per replica (TP {result.parallelism.tensor_parallel}): "
                     f"{result.decisions[0].why}")  # fmt: skip
        service = service.model_copy(update={"gpu": service.gpu.model_copy(update={"count": count})})
    else:
        notes.append(f"{result.model} does not fit on {result.gpu}"
                     + (f"; cheapest change: {result.suggestion.what}" if result.suggestion else ""))  # fmt: skip
    return service, result, notes


def schema_command(
    kind: str = typer.Option(
        "LLMService", "--kind", help="LLMService (default); other contracts as they exist."
    ),
    crd: bool = typer.Option(
        False,
        "--crd",
        help="Print the LLMService CustomResourceDefinition (YAML) instead of the JSON Schema.",
    ),
) -> None:
    """Print the JSON Schema of the LLMService spec (every field with its description and default).

    With --crd, the CustomResourceDefinition the operator serves: the same fields as a structural
    OpenAPI schema, the spec's cross-field checks as CEL rules, printer columns, status and scale.

    Examples:  kubellm schema > llmservice.schema.json

               kubellm schema --crd | kubectl apply --server-side -f -
    """
    from kubellm.spec import LLMService

    if kind != "LLMService":
        raise UsageError(f"unknown kind {kind!r}", "use --kind LLMService")
    if crd:
        from kubellm.operator.crd import crd as make_crd
        from kubellm.render.output import to_yaml

        typer.echo(to_yaml([make_crd()]), nl=False)
        return
    typer.echo(json.dumps(LLMService.model_json_schema(), indent=2))


def init_command(
    model: str = typer.Option(..., "--model", "-m", help="Catalog name or Hugging Face id."),
    gpu: str = typer.Option(..., "--gpu", "-g", help="GPU type (h100, l4, a100-80gb, …)."),
    gpus: int | None = typer.Option(
        None, "--gpus", min=1, help="GPUs per replica; unset = the planner chooses."
    ),
    engine: str = typer.Option("vllm", "--engine", help="vllm, sglang, tgi, trtllm or llamacpp."),
    name: str | None = typer.Option(None, "--name", help="Service name (default: from the model)."),
    provider: str = typer.Option(
        "generic", "--provider", help="Where the cluster runs: gke, eks, aks, openshift or generic."
    ),
    hf_token_secret: str | None = typer.Option(
        None,
        "--hf-token-secret",
        help="Secret with the Hugging Face token (key 'token'); gated models need it.",
    ),
    storage_class: str | None = typer.Option(
        None, "--storage-class", help="StorageClass of the model cache (EKS: gp2 unless given)."
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the spec here instead of stdout."),
) -> None:
    from kubellm.catalog import default_catalog
    from kubellm.planning.access import model_access_error
    from kubellm.spec import LLMService, validate_as

    catalog = default_catalog()
    arch = catalog.model(model)
    device = catalog.gpu(gpu)
    hf_id = model if model.count("/") == 1 else arch.hf_id
    data: dict[str, Any] = {
        "metadata": {"name": name or _slug(arch.name)},
        "model": {"source": f"hf://{hf_id}", "name": arch.name},
        "engine": {"name": engine},
        "gpu": {"type": device.name, "count": gpus},
        "placement": {"provider": provider},
        "security": {"hf_token_secret": hf_token_secret},
    }
    if storage_class is None and provider == "eks":
        storage_class = "gp2"
        typer.echo(
            "note: EKS clusters created on 1.30 or later have no default StorageClass: wrote "
            "storage.storage_class: gp2 (EBS, on every EKS cluster); use your gp3 class if you have one",
            err=True,
        )
    if storage_class:
        data["storage"] = {"storage_class": storage_class}
    service = validate_as(LLMService, data, "init")
    gated = model_access_error(service)
    if gated is not None:
        fix = gated.fix.replace("set security.hf_token_secret: hf-token", "pass --hf-token-secret hf-token")
        raise UsageError(gated.what, fix)
    if gpus is None:
        service, result, notes = choose_layout(service)
    else:
        from kubellm.planning import plan

        result, notes = plan(service), []
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    header = [
        f"# LLMService for {arch.name} on {device.name} — written by `kubellm init`.",
        f"# Plan: {'fits' if result.fits else 'DOES NOT FIT'}; KV cache {result.kv_cache.tokens:,} tokens; "
        f"max_model_len {result.kv_cache.max_model_len}; engine args: {' '.join(result.engine_args)}",
        "# Pin model.revision to a commit sha and engine.image to a tested tag before production.",
    ]
    text = "\n".join(header + commented_yaml(service)) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_command)

    app.command("init", help=INIT_HELP)(init_command)
