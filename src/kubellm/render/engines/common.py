"""Pieces every adapter shares: image choice and the check that extra_args do not fight the plan."""

from __future__ import annotations

from collections.abc import Iterable

from kubellm.errors import UsageError
from kubellm.render.engines.base import EngineContext


def pick_image(ctx: EngineContext, tested: str) -> str:
    """The spec's pinned image when given, else the engine's tested tag."""
    return ctx.plan.spec.engine.image or tested


def flag_name(arg: str) -> str:
    """'--max-model-len=4096' → '--max-model-len'; '-tp' stays '-tp'."""
    return arg.split("=", 1)[0]


def with_extra_args(ctx: EngineContext, planned: list[str], planned_flags: Iterable[str]) -> list[str]:
    """Planned arguments followed by the spec's extra_args; an extra arg that sets a planned flag is an error."""
    owned = set(planned_flags)
    extra = list(ctx.plan.spec.engine.extra_args)
    for arg in extra:
        name = flag_name(arg)
        if name in owned:
            raise UsageError(
                f"engine.extra_args sets {name}, which kubellm plans from the spec",
                f"remove {name} from engine.extra_args and set the spec field that drives it "
                "(gpu.count for parallelism, serving.* for context and batching, gpu.memory_utilization)",
            )
    return [*planned, *extra]


def num(value: float) -> str:
    """A number as an argument: integers without a decimal point, fractions with at most 3 digits."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0")
