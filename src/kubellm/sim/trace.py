"""Arrival traces: read from JSONL or CSV, or drawn as Poisson traffic with a seed.

A trace row is one request: ``arrival_s`` (seconds from the start; ``timestamp`` also accepted),
``prompt_tokens`` (or ``input_length``) and ``output_tokens`` (or ``output_length``). Optional:
``prefix`` (a name shared by requests with a common prompt prefix) with ``prefix_tokens`` (its
length), for prefix-caching studies.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubellm.errors import UsageError

_ALIASES = {
    "arrival_s": ("arrival_s", "timestamp", "arrival_time", "time_s"),
    "prompt_tokens": ("prompt_tokens", "input_length", "input_tokens", "isl"),
    "output_tokens": ("output_tokens", "output_length", "max_tokens", "osl"),
}


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """One request of a trace."""

    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    prefix: str | None = None
    prefix_tokens: int = 0


def poisson_trace(
    rate_per_s: float,
    duration_s: float,
    prompt_tokens: int = 512,
    output_tokens: int = 256,
    *,
    seed: int = 0,
    length_spread: float = 0.0,
) -> list[TraceRequest]:
    """Poisson arrivals at ``rate_per_s`` for ``duration_s``; lengths uniform within ±``length_spread``."""
    if rate_per_s <= 0 or duration_s <= 0:
        raise UsageError("a Poisson trace needs a positive rate and duration", "pass --rate R --duration S")
    rng = random.Random(seed)
    out: list[TraceRequest] = []
    t = rng.expovariate(rate_per_s)
    lo, hi = 1.0 - length_spread, 1.0 + length_spread
    while t < duration_s:
        if length_spread > 0:
            prompt = max(1, round(prompt_tokens * rng.uniform(lo, hi)))
            output = max(1, round(output_tokens * rng.uniform(lo, hi)))
        else:
            prompt, output = prompt_tokens, output_tokens
        out.append(TraceRequest(t, prompt, output))
        t += rng.expovariate(rate_per_s)
    return out


def load_trace(path: str | Path) -> list[TraceRequest]:
    """Rows of a ``.jsonl`` / ``.json`` (list) / ``.csv`` trace, sorted by arrival."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"trace file {p} does not exist", "give the path of a .jsonl or .csv trace")
    text = p.read_text(encoding="utf-8")
    rows: list[dict[str, Any]]
    try:
        if p.suffix == ".csv":
            rows = list(csv.DictReader(text.splitlines()))
        elif p.suffix == ".json":
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (json.JSONDecodeError, csv.Error) as exc:
        raise UsageError(
            f"trace {p} is not valid: {exc}", "one JSON object per line (or CSV with a header)"
        ) from exc
    out = [_row(row, p, i + 1) for i, row in enumerate(rows)]
    if not out:
        raise UsageError(f"trace {p} has no requests", "add one request per line")
    out.sort(key=lambda r: r.arrival_s)
    return out


def _row(row: Any, path: Path, line: int) -> TraceRequest:
    if not isinstance(row, dict):
        raise UsageError(
            f"{path}:{line}: a request must be an object",
            'e.g. {"arrival_s": 0.5, "prompt_tokens": 512, "output_tokens": 128}',
        )
    values: dict[str, float] = {}
    for key, names in _ALIASES.items():
        found = next((row[n] for n in names if row.get(n) not in (None, "")), None)
        if found is None:
            raise UsageError(
                f"{path}:{line}: missing {key!r}", f"add {key} (also accepted: {', '.join(names[1:])})"
            )
        try:
            values[key] = float(found)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{path}:{line}: {key} {found!r} is not a number", "use a number") from exc
    if values["prompt_tokens"] < 1 or values["output_tokens"] < 1 or values["arrival_s"] < 0:
        raise UsageError(f"{path}:{line}: lengths must be ≥ 1 and arrival ≥ 0", "fix the row")
    prefix = row.get("prefix")
    prefix_tokens = int(float(row.get("prefix_tokens") or 0))
    return TraceRequest(
        values["arrival_s"],
        int(values["prompt_tokens"]),
        int(values["output_tokens"]),
        str(prefix) if prefix not in (None, "") else None,
        min(prefix_tokens, int(values["prompt_tokens"])),
    )
