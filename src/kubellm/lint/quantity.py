"""Kubernetes resource quantities for lint rules: the one parser in ``kubellm.spec.quantity``."""

from __future__ import annotations

from typing import Any

from kubellm.quantity import GIB, parse_quantity

__all__ = ["GIB", "gib", "parse_quantity"]


def gib(value: Any) -> float | None:
    number = parse_quantity(value)
    return None if number is None else number / GIB
