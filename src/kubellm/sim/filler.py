"""Deterministic output text: every generated token is one short word with a leading space.

Each word has at most four letters, so the simulator's own tokenizer counts exactly one token per
word and ``usage.completion_tokens`` equals the number of streamed pieces. Token ``i`` of a request is
``WORDS[(seed + i) % len(WORDS)]``: the same seed gives the same text.
"""

from __future__ import annotations

WORDS = (
    " the",
    " sim",
    " runs",
    " each",
    " step",
    " of",
    " a",
    " busy",
    " GPU",
    " and",
    " its",
    " KV",
    " pool",
    " may",
    " fill",
    " up",
    " so",
    " new",
    " work",
    " must",
    " wait",
    " then",
    " it",
    " goes",
    " on",
    " with",
    " one",
    " more",
    " word",
    " per",
    " tick",
    ".",
)


def filler_piece(index: int, seed: int = 0) -> str:
    """Text of output token ``index`` (0-based)."""
    return WORDS[(seed + index) % len(WORDS)]


def filler_text(start: int, count: int, seed: int = 0) -> str:
    """Text of output tokens ``start`` … ``start + count − 1``."""
    n = len(WORDS)
    return "".join(WORDS[(seed + i) % n] for i in range(start, start + count))
