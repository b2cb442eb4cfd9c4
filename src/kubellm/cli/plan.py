"""`kubellm plan`: which GPUs, how many, which engine settings, at what cost — and why."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.catalog import GpuSpec
    from kubellm.planning import Plan
    from kubellm.spec import LLMService

PLAN_HELP = """Plan one replica: memory per GPU, KV capacity, parallelism, engine arguments, speed and cost.

Give a spec file, or flags (which override the spec's fields). Without a spec and without --tp the
plan is for ONE GPU of the given type; when it does not fit, it names the cheapest change that does.
In a spec, leaving gpu.count unset lets the planner pick the smallest tensor-parallel size that fits.

Examples:

  kubellm plan --model meta-llama/Llama-3.1-8B-Instruct --gpu l4

  kubellm plan --model Llama-3.3-70B-Instruct --gpu h100 --tp 2 --quantization fp8 --json

  kubellm plan --model-config ./config.json --gpu-memory-gib 48 --max-model-len 8192

  kubellm plan examples/llama-3.1-8b-l4.yaml

  kubellm plan --model gpt-oss-120b --gpu h100 --vllm-version 0.14.1

The memory accounting follows one vLLM release: --vllm-version, else the version of a pinned
vllm/vllm-openai image in the spec, else the release kubellm renders (the plan names it).

Exit status: 0 when the plan fits, 3 when it does not fit (the plan then names the change that does
and carries no engine arguments and no price), 2 for unusable input.

Sizing for an SLO (--slo and --traffic): search GPU types, GPUs per replica (TP, MIG slices), fp8
weights and KV cache, engine limits and replicas; simulate each promising configuration with the
traffic behind the gateway's routing policy; rank those that meet the SLO by cost; write the best as
a complete spec with -o. Traffic: rate=R or concurrency=N, prompt=L[±S], output=L[±S], or trace=FILE.

  kubellm plan --model llama-3.1-8b --slo ttft_p95_ms=1000,itl_p95_ms=50 \
      --traffic rate=20,prompt=2048,output=300 --gpus l4,l40s,h100 -o best.yaml

  kubellm plan service.yaml --slo itl_p95_ms=40 --traffic concurrency=64,prompt=1024±256,output=256 \
      --budget-usd-hour 30 --price h200=3.7 --json
"""
EXIT_DOES_NOT_FIT = 3


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    section, field = path.split(".")
    data.setdefault(section, {})[field] = value


def build_spec(
    spec_path: Path | None,
    *,
    model: str | None = None,
    model_config: Path | None = None,
    gpu: str | None = None,
    overrides: dict[str, Any] | None = None,
    one_gpu_default: bool = True,
) -> LLMService:
    """An LLMService from a spec file and/or flags (flags win)."""
    from kubellm.spec import LLMService, read_yaml, validate_as

    data: dict[str, Any] = {}
    if spec_path is not None:
        loaded = read_yaml(spec_path)
        if not isinstance(loaded, dict):
            raise UsageError(f"{spec_path}: not an LLMService spec", "kubellm init writes one")
        data = loaded
    elif not (model or model_config):
        raise UsageError("nothing to plan", "give a SPEC file, --model NAME or --model-config PATH")
    data.setdefault("metadata", {"name": "plan"})
    if model or model_config:
        name = model or (
            model_config.parent.name if model_config and model_config.name == "config.json" else None
        )
        source = (
            f"hf://{model}" if model and model.count("/") == 1 else f"hf://local/{name or 'custom-model'}"
        )
        section = data.setdefault("model", {})
        section["source"] = section.get("source") or source
        if model:
            section["name"] = model
        if model_config:
            section["config"] = str(model_config)
    if gpu:
        _set(data, "gpu.type", gpu)
    for path, value in (overrides or {}).items():
        if value is not None:
            _set(data, path, value)
    if spec_path is None and one_gpu_default:
        data.setdefault("gpu", {}).setdefault("count", 1)
    return validate_as(LLMService, data, str(spec_path or "flags"))


def custom_gpu(memory_gib: float, base: GpuSpec | None) -> GpuSpec:
    """A GPU known only by its memory; speed figures come from ``base`` or a generic Ampere-class card."""
    import dataclasses

    from kubellm.catalog import GpuSpec

    if base is not None:
        return dataclasses.replace(base, name=f"{base.name} ({memory_gib:g} GiB)", memory_gib=memory_gib)
    return GpuSpec(
        name=f"custom-{memory_gib:g}GiB",
        memory_gib=memory_gib,
        memory_gb_nominal=memory_gib,
        bandwidth_tbs=1.0,
        bf16_tflops=150.0,
        fp16_tflops=150.0,
        fp8_tflops=None,
        int8_tops=None,
        compute_capability="8.0",
        architecture="unknown (generic Ampere-class speed assumed)",
    )


def run_plan(
    spec: LLMService, gpu_memory_gib: float | None, *, generation: str = "v1", vllm_version: str | None = None
) -> Plan:
    from kubellm.catalog import default_catalog
    from kubellm.planning import plan

    catalog = default_catalog()
    gpu = None
    if gpu_memory_gib is not None:
        base = catalog.find_gpu(spec.gpu.type) if spec.gpu.type else None
        gpu = custom_gpu(gpu_memory_gib, base)
    return plan(spec, catalog, gpu=gpu, generation=generation, vllm_version=vllm_version)


def render_plan_text(p: Plan) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    status = "[green]fits[/green]" if p.fits else "[red]does not fit[/red]"
    par = p.parallelism
    console.print(
        f"[bold]{p.model}[/bold] on {par.gpus_per_replica} × [bold]{p.gpu}[/bold] "
        f"(TP {par.tensor_parallel}, PP {par.pipeline_parallel}) — {status}"
    )
    memory = Table(title="Memory per GPU (GiB)", show_header=True)
    for col in ("total", "budget", "weights", "activation", "non-torch", "KV cache", "CUDA graphs"):
        memory.add_column(col, justify="right")
    m = p.memory
    memory.add_row(*(f"{v:.2f}" for v in (m.total_gib, m.budget_gib, m.weights_gib, m.activation_gib,
                                          m.non_torch_gib, m.kv_cache_gib, m.cuda_graph_gib)))  # fmt: skip
    console.print(memory)
    kv, perf, cost = p.kv_cache, p.performance, p.cost
    facts = Table(show_header=False, box=None)
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("KV cache", f"{kv.tokens:,} tokens ({kv.bytes_per_token:,} B/token/GPU), "
                  f"{kv.max_concurrency:.2f} requests of {kv.max_model_len:,} tokens")  # fmt: skip
    facts.add_row("decode", f"{perf.decode_ms_per_step:.2f} ms/step at batch 1 (context 1,024); "
                  f"ITL {perf.itl_ms:.1f} ms at {perf.concurrency} concurrent")  # fmt: skip
    facts.add_row("throughput", f"{perf.output_tokens_per_s:,.0f} output tok/s; prefill {perf.prefill_tokens_per_s:,.0f} tok/s; "
                  f"TTFT {perf.ttft_ms:.0f} ms (1,024-token prompt, idle)")  # fmt: skip
    if cost.usd_per_hour is not None:
        per_m = f"${cost.usd_per_million_output_tokens:.3f}" if cost.usd_per_million_output_tokens else "n/a"
        facts.add_row("cost", f"${cost.usd_per_hour:.2f}/hour per replica; {per_m} per million output tokens")
    else:
        facts.add_row("cost", cost.price_basis)
    r = p.resources
    facts.add_row("pod", f"{r.cpu} CPU, {r.memory_gib} GiB memory, /dev/shm {r.shm_gib:g} GiB, "
                  f"{r.gpu_count} × {r.gpu_resource}, startup budget {p.probes.startup_budget_s} s")  # fmt: skip
    if p.instance is not None:
        i = p.instance
        facts.add_row("instance", f"{i.name} ({i.provider}: {i.gpus} GPU, {i.vcpu} vCPU, {i.memory_gib:g} GiB; "
                      f"{i.pod_share_cpu:g} CPU / {i.pod_share_memory_gib:g} GiB per pod after reservations, "
                      f"{i.pods_per_node} pod(s) per node)" + ("" if i.fits else " — the pod does NOT fit"))  # fmt: skip
    facts.add_row("engine args", " ".join(p.engine_args) if p.engine_args else "none: the plan does not fit")
    if p.vllm_version:
        facts.add_row("accounting", f"vLLM {p.vllm_version}")
    console.print(facts)
    console.print("[bold]Decisions[/bold]")
    for d in p.decisions:
        console.print(f"  • {d.what}: {d.why}", highlight=False)
    for w in p.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    if p.suggestion:
        console.print(
            f"[bold]Cheapest change that fits:[/bold] {p.suggestion.what} — {p.suggestion.why}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    @app.command("plan", help=PLAN_HELP)
    def plan_command(
        spec: Path | None = typer.Argument(None, help="LLMService spec file (optional when --model is given)."),
        model: str | None = typer.Option(None, "--model", "-m", help="Catalog name or Hugging Face id."),
        model_config: Path | None = typer.Option(None, "--model-config", help="A Hugging Face config.json for models not in the catalog."),
        gpu: str | None = typer.Option(None, "--gpu", "-g", help="GPU type: h100, h200, a100-80gb, a100-40gb, l4, l40s, a10g, t4, …"),
        gpu_memory_gib: float | None = typer.Option(None, "--gpu-memory-gib", min=1.0, help="Plan for a GPU with this much memory (GiB, as torch reports it)."),
        tp: int | None = typer.Option(None, "--tp", min=1, help="Tensor-parallel size (GPUs per replica)."),
        utilization: float | None = typer.Option(None, "--gpu-memory-utilization", min=0.05, max=0.98, help="Fraction of GPU memory the engine may use (default 0.90)."),
        max_model_len: int | None = typer.Option(None, "--max-model-len", min=16, help="Context length in tokens (default: longest that leaves room for 4 requests)."),
        max_num_batched_tokens: int | None = typer.Option(None, "--max-num-batched-tokens", min=16, help="Tokens per engine step."),
        max_num_seqs: int | None = typer.Option(None, "--max-num-seqs", min=1, help="Cap on running sequences."),
        weights_gib: float | None = typer.Option(None, "--weights-gib", min=0.001, help="Measured weight size in GiB (overrides params × bytes)."),
        quantization: str | None = typer.Option(None, "--quantization", "-q", help="none, fp8, int8, awq, gptq, int4, mxfp4."),
        kv_cache_dtype: str | None = typer.Option(None, "--kv-cache-dtype", help="auto or fp8 (halves KV memory)."),
        concurrency: int | None = typer.Option(None, "--concurrency", "-c", min=1, help="Concurrent requests per replica for the throughput figures."),
        engine: str | None = typer.Option(None, "--engine", help="vllm (default), sglang, tgi, trtllm, llamacpp."),
        provider: str | None = typer.Option(None, "--provider", help="gke, eks, aks, openshift or generic: size and price the pods for the provider's instance shapes."),
        instance_type: str | None = typer.Option(None, "--instance-type", help="Instance shape to size for (e.g. g6.2xlarge); default: the cheapest that holds the pod."),
        vllm_version: str | None = typer.Option(None, "--vllm-version", help="vLLM release whose memory accounting to follow, e.g. 0.14.1 (default: the spec's pinned image, else the release kubellm renders)."),
        vllm_generation: str = typer.Option("v1", "--vllm-generation", help="v0 follows the V0 engine (vLLM ≤ 0.7) for old logs; v1 (default) follows --vllm-version."),
        as_json: bool = typer.Option(False, "--json", help="Print only the plan as JSON on stdout."),
        slo: str | None = typer.Option(None, "--slo", help="Size for an SLO: ttft_p95_ms=N,itl_p95_ms=N (needs --traffic)."),
        traffic: str | None = typer.Option(None, "--traffic", help="Sizing traffic: rate=R|concurrency=N,prompt=L[±S],output=L[±S] or trace=FILE."),
        gpus: str | None = typer.Option(None, "--gpus", help="Sizing: GPU types to consider, e.g. l4,l40s,h100 (default: 8 common ones)."),
        budget_usd_hour: float | None = typer.Option(None, "--budget-usd-hour", help="Sizing: the most the whole service may cost per hour."),
        price: str | None = typer.Option(None, "--price", help="Sizing: your prices per GPU-hour, e.g. h200=3.7,b200=6."),
        quantizations: str = typer.Option("none,fp8", "--quantizations", help="Sizing: weight quantizations to try (none, fp8, awq, …)."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Sizing: write the best configuration as a spec ('-' = stdout)."),
    ) -> None:  # fmt: skip
        from kubellm.planning.access import model_access_error

        if model and model_config:
            raise UsageError("--model and --model-config both given", "give one of them")
        if vllm_generation not in ("v0", "v1"):
            raise UsageError(f"--vllm-generation {vllm_generation!r}", "use v1 or v0")
        overrides = {
            "gpu.count": tp,
            "gpu.memory_utilization": utilization,
            "serving.max_model_len": max_model_len,
            "serving.max_num_batched_tokens": max_num_batched_tokens,
            "serving.max_num_seqs": max_num_seqs,
            "serving.target_concurrency": concurrency,
            "serving.kv_cache_dtype": kv_cache_dtype,
            "model.weights_gib": weights_gib,
            "model.quantization": quantization,
            "engine.name": engine,
            "placement.provider": provider,
            "placement.instance_type": instance_type,
        }
        if gpu is None and gpu_memory_gib is not None and spec is None:
            gpu = "__custom__"
        service = build_spec(spec, model=model, model_config=model_config, gpu=gpu if gpu != "__custom__" else None,
                             overrides=overrides)  # fmt: skip
        if gpu == "__custom__":
            service = service.model_copy(update={"gpu": service.gpu.model_copy(update={"type": "custom"})})
        access = model_access_error(service)
        if access is not None and spec is not None:
            raise access
        if vllm_version is not None:
            from kubellm.planning.vllm_versions import parse_version

            parse_version(vllm_version)  # UsageError with the fix for a malformed version
        if slo or traffic or gpus or budget_usd_hour is not None or output is not None:
            from kubellm.cli.sizing import run_sizing

            if access is not None:
                typer.echo(f"warning: {access.what} — before rendering: {access.fix}", err=True)

            run_sizing(service, slo_text=slo, traffic_text=traffic, gpus_text=gpus, budget=budget_usd_hour,
                       prices_text=price, quantizations_text=quantizations, output=output, as_json=as_json,
                       command="kubellm plan " + " ".join(sys.argv[2:]))  # fmt: skip
            return
        result = run_plan(service, gpu_memory_gib, generation=vllm_generation, vllm_version=vllm_version)
        if access is not None:
            typer.echo(f"warning: {access.what} — before rendering: {access.fix}", err=True)
        if as_json:
            typer.echo(json.dumps(result.to_json_dict(), indent=2))
            for warning in result.warnings:
                typer.echo(f"warning: {warning}", err=True)
        else:
            render_plan_text(result)
        if not result.fits:
            raise typer.Exit(code=EXIT_DOES_NOT_FIT)
