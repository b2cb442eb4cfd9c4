"""Kubernetes resource quantities ('60Gi', '500m', '100n', '1e3'): the one parser every package uses (a top-level
module like ``kubellm.errors``, so lint and the gateway import it without loading pydantic).

The grammar is apimachinery's ``resource.Quantity``: a signed decimal number, then a binary suffix
(Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m '' k M G T P E) or a decimal exponent (e3, E-2).
Anything else — ``1K``, ``1Zi``, ``1.5.2`` — is not a quantity (None), as the API server would refuse it.

Hand-written with a measured reason: lightkube's ``parse_quantity`` rejects the ``n`` and ``u`` suffixes
the API server accepts (``100n`` CPU) and accepts ``Z``/``Y`` suffixes it refuses.
"""

from __future__ import annotations

import re

BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL_SUFFIXES = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exponent>[+-]?\d+)|(?P<decimal>[numkMGTPE]?))$"
)
GIB = 2**30


def parse_quantity(value: object) -> float | None:
    """The quantity in base units (bytes, cores, devices); None when it is not a Kubernetes quantity.

    Numbers (a YAML ``2``) are taken as they are; booleans and None are not quantities.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if match is None:
        return None
    number = float(match["number"])
    if match["binary"]:
        return number * BINARY_SUFFIXES[match["binary"]]
    if match["exponent"] is not None:
        exponent = int(match["exponent"])
        return number * 10.0**exponent if abs(exponent) <= 300 else None
    return number * DECIMAL_SUFFIXES[match["decimal"] or ""]


def quantity_gib(value: object) -> float | None:
    """The quantity in GiB (None when it is not one)."""
    number = parse_quantity(value)
    return None if number is None else number / GIB
