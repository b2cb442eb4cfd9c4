"""Kubernetes resource quantities ('60Gi', '500m', '1e3', 20G) as numbers."""

from __future__ import annotations

import re
from typing import Any

_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_QUANTITY = re.compile(
    r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|K|M|G|T|P|E)?\s*$"
)
GIB = 2**30


def parse_quantity(value: Any) -> float | None:
    """The quantity in base units (bytes, cores, devices); None when it is not a quantity."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match:
        return None
    return float(match.group(1)) * _SUFFIX[match.group(2) or ""]


def gib(value: Any) -> float | None:
    number = parse_quantity(value)
    return None if number is None else number / GIB
