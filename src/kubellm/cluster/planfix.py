"""KV-cache fixes with numbers: the engine's own figure, and — when the spec is known — the planner's.

The engine says how many tokens fit ("estimated maximum model length is 74800", V0's "maximum number of tokens
that can be stored in KV cache (74800)"). The context to set is the longest on the planner's context ladder
(``AUTO_CONTEXTS``) that fits. With the spec, each change that keeps the configured length (fp8 KV cache, the
next tensor-parallel size, a higher memory utilization) is planned with ``kubellm.planning``; the planner's KV
capacity for it, scaled by what the engine measured against what the planner expected for the spec as it is,
says whether the configured length then fits. No memory arithmetic is repeated here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubellm.errors import KubellmError
from kubellm.spec.service import GpuSharing

if TYPE_CHECKING:
    from kubellm.planning import Plan

KEEP_LENGTH_UTILIZATION = 0.95  # the highest gpu.memory_utilization the planner's suggestions use


def context_that_fits(tokens: int) -> int:
    """The longest context on the planner's ladder (powers of two from 2K) that fits; below 2K the figure itself."""
    from kubellm.planning.layout import AUTO_CONTEXTS

    fitting = [c for c in AUTO_CONTEXTS if c <= tokens]
    return fitting[-1] if fitting else tokens


def _variant_tokens(plan: Plan, changes: dict[str, dict[str, Any]]) -> int | None:
    """KV tokens the planner gives the spec with these changes (None when it cannot plan them)."""
    from pydantic import ValidationError

    from kubellm.planning import plan as make_plan
    from kubellm.spec import LLMService

    data = plan.spec.model_dump(mode="python")
    for section, fields in changes.items():
        data[section].update(fields)
    try:
        return make_plan(LLMService.model_validate(data)).kv_cache.tokens
    except (KubellmError, ValidationError, ValueError, ZeroDivisionError):
        return None


def _keep_length_changes(plan: Plan) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """Spec changes that add KV-cache room without shortening the context, cheapest first."""
    from kubellm.catalog import resolve_model
    from kubellm.planning import valid_tps

    spec = plan.spec
    changes: list[tuple[str, dict[str, dict[str, Any]]]] = []
    if spec.serving.kv_cache_dtype == "auto":
        changes.append(("serving.kv_cache_dtype: fp8", {"serving": {"kv_cache_dtype": "fp8"}}))
    if spec.gpu.memory_utilization < KEEP_LENGTH_UTILIZATION:
        changes.append(
            (
                f"gpu.memory_utilization: {KEEP_LENGTH_UTILIZATION}",
                {"gpu": {"memory_utilization": KEEP_LENGTH_UTILIZATION}},
            )
        )
    if spec.gpu.sharing == GpuSharing.EXCLUSIVE:
        try:
            model = resolve_model(spec.model.planning_name, spec.model.config)
        except KubellmError:
            return changes
        current = plan.parallelism.tensor_parallel
        bigger = [tp for tp in valid_tps(model, spec.gpu.gpus_per_node) if tp > current]
        if bigger:
            changes.append(
                (f"gpu.count: {bigger[0] * spec.gpu.nodes}", {"gpu": {"count": bigger[0] * spec.gpu.nodes}})
            )
    return changes


def kv_cache_fix(engine_fit: int | None, configured: int | None, plan: Plan | None) -> str | None:
    """The fix line for a KV cache too small for the context; None when there is no figure to give."""
    if plan is None:
        if engine_fit is None:
            return None
        asked = f" (configured {configured:,})" if configured else ""
        return (
            f"Max model length that fits: {engine_fit:,}{asked} — set serving.max_model_len: "
            f"{context_that_fits(engine_fit)}, or keep the length and use serving.kv_cache_dtype: fp8, a higher "
            "gpu.memory_utilization, or more GPUs per replica (gpu.count)."
        )
    planned = plan.kv_cache.tokens
    fit = engine_fit if engine_fit is not None else planned
    source = "" if engine_fit is not None else " (planner's estimate)"
    length = configured or plan.settings.max_model_len
    scale = fit / planned if planned > 0 else 1.0
    keeping = []
    for label, changes in _keep_length_changes(plan):
        tokens = _variant_tokens(plan, changes)
        if tokens is not None and tokens * scale >= length:
            keeping.append(f"{label} (planner: ≈{int(tokens * scale):,} tokens)")
    head = (
        f"Max model length that fits: {fit:,}{source} (configured {length:,}) — set serving.max_model_len: "
        f"{context_that_fits(fit)}"
    )
    if keeping:
        return f"{head}; or keep {length:,} tokens with " + " or ".join(keeping) + "."
    return f"{head}; no single spec change the planner knows keeps {length:,} tokens on this GPU."
