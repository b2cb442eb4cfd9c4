"""GPU014: a vLLM engine left at the model's native context, when that context does not fit.

vLLM reserves KV cache for `max_model_len` (the model's native context by default) and refuses to start
when one such request does not fit. Other engines size themselves (SGLang caps requests at its KV pool,
NIM, KAITO and Ollama pick a context), so the rule is about vLLM and what runs it (KServe's
huggingfaceserver, Ray Serve LLM, Dynamo's vLLM worker). It stays silent when the planner shows the full
context fits: on the pod's GPU when the manifest says which, else on the smallest catalog GPU that holds
the weights with the manifest's TP × PP.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubellm.lint.context import LintContext
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.gpu import GpuChoice, estimate_params, find_model
from kubellm.lint.registry import rule
from kubellm.lint.rules.fit import planned
from kubellm.lint.workload import ContainerView, PodView

SHORT_CONTEXT = 8192  # native contexts this short always fit next to the weights that leave any KV cache
SMALL_MODEL_PARAMS = 4e9  # an unknown model this small holds even a 128k context on a 24 GB GPU


def full_context_fits(
    pod: PodView, c: ContainerView, ctx: LintContext, native: int
) -> tuple[bool | None, str]:
    """Whether one request of the native context fits the KV cache, and on which GPU that was judged.
    None when no GPU holds the weights (FIT001's business) or the model cannot be planned."""
    choice = ctx.gpu_for(pod)
    if choice is not None:
        found = planned(pod, c, ctx, max_model_len=native)
        return (found[0].fits, found[2].smallest.name) if found else (None, "")
    for gpu in sorted(ctx.catalog.gpus, key=lambda g: g.memory_gib):
        found = planned(pod, c, ctx, GpuChoice((gpu,), "smallest GPU for the weights"), native)
        if found is not None and found[0].memory.kv_cache_gib > 0:
            return found[0].fits, f"{gpu.name} (the smallest GPU that holds the weights)"
    return None, ""


@rule(
    "GPU014",
    "max-model-len-missing",
    Severity.WARNING,
    "vLLM serves a long-context model without --max-model-len, and the full context does not fit",
    why="Without `--max-model-len` vLLM reserves KV cache for the model's native context (often 32k–128k); "
    "when one such request does not fit it refuses to start (`The model's max seq len (131072) is larger than "
    "the maximum number of tokens that can be stored in KV cache`). SGLang, NIM, KAITO and Ollama size the "
    "context themselves, and a model whose full context fits needs no limit.",
    fix="Set `--max-model-len` to the longest request you serve; `kubellm plan` gives a value that fits.",
    bad="args: [serve, meta-llama/Llama-3.1-8B-Instruct]\nnodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}",
    good="args: [serve, meta-llama/Llama-3.1-8B-Instruct, --max-model-len=16384]",
    mistakes=("M15",),
    managed=True,
    needs="engine",
)
def max_model_len_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        engine = c.engine
        if engine is None or not engine.vllm_like or engine.max_model_len is not None:
            continue
        if engine.sizes_context or engine.rank:
            continue
        model = engine.model
        if not model or "$" in model:
            continue
        arch = find_model(ctx.catalog, model)
        if arch is None:
            params = estimate_params(model)
            local = model.startswith(("/", "./", "pvc://", "s3://", "gs://"))
            if not local and (params is None or params > SMALL_MODEL_PARAMS):
                yield Hit(
                    f"no --max-model-len for {model}; its native context is unknown (often 32k-128k)",
                    c.path,
                    c.name,
                )
            continue
        native = arch.max_position_embeddings
        if native <= SHORT_CONTEXT:
            continue
        fits, where = full_context_fits(pod, c, ctx, native)
        if fits is False:
            yield Hit(
                f"no --max-model-len for {model}: its native context of {native:,} tokens does not fit the KV cache "
                f"on {where}",
                c.path,
                c.name,
            )
