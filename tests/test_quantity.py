"""The one Kubernetes quantity parser (``kubellm.quantity``): apimachinery's grammar, as properties."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.quantity import BINARY_SUFFIXES, DECIMAL_SUFFIXES, parse_quantity

NUMBERS = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)


@given(NUMBERS, st.sampled_from(sorted(BINARY_SUFFIXES)), st.sampled_from(["", "+", "-"]))
def test_binary_suffixes_multiply_by_powers_of_1024(number: object, suffix: str, sign: str) -> None:
    value = parse_quantity(f"{sign}{number}{suffix}")
    expected = float(f"{sign}{number}") * BINARY_SUFFIXES[suffix]
    assert value == pytest.approx(expected)


@given(NUMBERS, st.sampled_from(sorted(DECIMAL_SUFFIXES)))
def test_decimal_suffixes_multiply_by_powers_of_1000(number: object, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == pytest.approx(float(str(number)) * DECIMAL_SUFFIXES[suffix])


@given(st.integers(0, 10**6), st.integers(-12, 12), st.sampled_from(["e", "E"]))
def test_decimal_exponents(mantissa: int, exponent: int, e: str) -> None:
    assert parse_quantity(f"{mantissa}{e}{exponent}") == pytest.approx(mantissa * 10.0**exponent)


@given(st.integers(1, 999), st.text(alphabet=string.ascii_letters, min_size=1, max_size=3))
def test_any_other_suffix_is_not_a_quantity(number: int, suffix: str) -> None:
    known = {*BINARY_SUFFIXES, *DECIMAL_SUFFIXES}
    if suffix in known or (suffix[0] in "eE" and suffix[1:].lstrip("+-").isdigit()):
        return
    assert parse_quantity(f"{number}{suffix}") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100n", 1e-7), ("250u", 2.5e-4), ("500m", 0.5), ("2", 2.0), ("1.5", 1.5), (".5", 0.5), ("5.", 5.0),
        ("1k", 1e3), ("1E", 1e18), ("1Ei", 2.0**60), ("80Gi", 80 * 2.0**30), ("1e3", 1e3), ("1E-3", 1e-3),
        (" 4Gi ", 4 * 2.0**30), (3, 3.0), (2.5, 2.5),
        ("1K", None), ("1Zi", None), ("1Y", None), ("Gi", None), ("1.2.3", None), ("1 Gi", None), ("", None),
        ("1e", None), ("0x10", None), (True, None), (None, None), ([1], None),
    ],
)  # fmt: skip
def test_boundaries(text: object, value: float | None) -> None:
    assert parse_quantity(text) == (pytest.approx(value) if value is not None else None)
