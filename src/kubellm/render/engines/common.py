"""Pieces every adapter shares: the image choice and how numbers are written as arguments."""

from __future__ import annotations

from kubellm.render.engines.base import EngineContext


def pick_image(ctx: EngineContext, tested: str) -> str:
    """The spec's pinned image when given, else the engine's tested tag."""
    return ctx.plan.spec.engine.image or tested


def num(value: float) -> str:
    """A number as an argument: integers without a decimal point, fractions with at most 3 digits."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0")
