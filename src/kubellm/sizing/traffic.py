"""Traffic to size for: a rate or a concurrency, prompt and answer lengths, or a recorded trace.

``--traffic rate=20,prompt=2048±512,output=300`` (also ``concurrency=N``, ``+-`` for ``±``,
``requests=N``, ``lengths=sharegpt``, ``trace=FILE``). A length ``L±S`` is drawn uniformly from
[L−S, L+S], seeded; ``lengths=sharegpt`` draws them with ShareGPT's long-tailed spread at the means
``prompt`` and ``output`` (``kubellm.sizing.lengths``). A trace file is the simulator's trace format
(``kubellm.sim.trace``), e.g. one exported from a bench run.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from kubellm.errors import UsageError
from kubellm.sim.trace import TraceRequest, load_trace
from kubellm.sizing.lengths import sharegpt_lengths, sharegpt_longest

MIN_REQUESTS = 400  # enough that a TTFT p95 rests on 20 requests above it (ITL: on thousands of gaps)
MIN_DURATION_S = 30.0  # open loop: at least half a minute of arrivals
CLOSED_LOOP_ROUNDS = 10  # closed loop: each slot serves this many requests
MAX_REQUESTS = 1500

_LENGTH = re.compile(r"^(\d+)(?:\s*(?:±|\+-|\+/-)\s*(\d+))?$")
_KEYS = ("rate", "concurrency", "prompt", "output", "requests", "lengths", "trace")
LENGTH_SHAPES = ("uniform", "sharegpt")


@dataclass(frozen=True, slots=True)
class Traffic:
    """What clients send: open loop at ``rate`` requests/s, or ``concurrency`` in flight, or a trace."""

    rate: float | None = None
    concurrency: int | None = None
    prompt_tokens: int = 1024
    prompt_spread: int = 0
    output_tokens: int = 256
    output_spread: int = 0
    requests: int | None = None
    trace_path: str | None = None
    length_shape: str = "uniform"  # or "sharegpt": ShareGPT's spread at the mean lengths (spreads unused)

    @property
    def label(self) -> str:
        if self.trace_path:
            return f"trace {self.trace_path}"
        load = f"rate {self.rate:g}/s" if self.rate is not None else f"concurrency {self.concurrency}"
        if self.rate is None and self.concurrency is None:
            load = f"{self.requests} requests at once"
        if self.length_shape == "sharegpt":
            return f"{load}, ShareGPT lengths, mean prompt {self.prompt_tokens}, mean output {self.output_tokens}"
        spread_in = f"±{self.prompt_spread}" if self.prompt_spread else ""
        spread_out = f"±{self.output_spread}" if self.output_spread else ""
        return f"{load}, prompt {self.prompt_tokens}{spread_in}, output {self.output_tokens}{spread_out}"

    @property
    def longest_request(self) -> int:
        """Prompt plus answer of the longest request the traffic can hold (for max_model_len)."""
        if self.length_shape == "sharegpt":
            return sharegpt_longest(self.prompt_tokens, self.output_tokens)
        return self.prompt_tokens + self.prompt_spread + self.output_tokens + self.output_spread


def parse_traffic(text: str) -> Traffic:
    """``rate=20,prompt=2048±512,output=300`` → Traffic (errors say what to write instead)."""
    values: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in _KEYS:
            raise UsageError(
                f"--traffic: cannot read {item!r}",
                "write KEY=VALUE items: rate=R or concurrency=N, prompt=L[±S], output=L[±S], requests=N, "
                "lengths=sharegpt, trace=FILE",
            )
        values[key] = value.strip()
    if "trace" in values:
        path = Path(values["trace"])
        if not path.is_file():
            raise UsageError(f"--traffic trace={path}: no such file", "give a .jsonl or .csv trace")
        return Traffic(trace_path=str(path))
    if "rate" in values and "concurrency" in values:
        raise UsageError("--traffic: rate and concurrency exclude each other", "give one of them")
    if "rate" not in values and "concurrency" not in values and "requests" not in values:
        raise UsageError(
            "--traffic needs rate=R or concurrency=N (one of them)", "e.g. rate=20,prompt=2048,output=300"
        )
    shape = values.get("lengths", "uniform").lower()
    if shape not in LENGTH_SHAPES:
        raise UsageError(
            f"--traffic lengths={shape!r} is not a length shape", "write lengths=sharegpt (or leave it out)"
        )
    prompt, prompt_spread = _length(values.get("prompt", "1024"), "prompt")
    output, output_spread = _length(values.get("output", "256"), "output")
    return Traffic(
        rate=_positive(values["rate"], "rate", float) if "rate" in values else None,
        concurrency=int(_positive(values["concurrency"], "concurrency", int))
        if "concurrency" in values
        else None,
        prompt_tokens=prompt,
        prompt_spread=prompt_spread,
        output_tokens=output,
        output_spread=output_spread,
        requests=int(_positive(values["requests"], "requests", int)) if "requests" in values else None,
        length_shape=shape,
    )


def _positive(text: str, key: str, kind: type[float] | type[int]) -> float:
    try:
        value = float(kind(text))
    except ValueError:
        raise UsageError(f"--traffic {key}={text!r} is not a number", f"e.g. {key}=20") from None
    if value <= 0:
        raise UsageError(f"--traffic {key} must be above 0", f"e.g. {key}=20")
    return value


def _length(text: str, key: str) -> tuple[int, int]:
    m = _LENGTH.match(text.replace(" ", ""))
    if not m:
        raise UsageError(f"--traffic {key}={text!r}: not a length", f"write {key}=2048 or {key}=2048±512")
    mean, spread = int(m.group(1)), int(m.group(2) or 0)
    if mean < 1 or spread >= mean:
        raise UsageError(
            f"--traffic {key}={text}: the length must be ≥ 1 and the spread below it", f"e.g. {key}=2048±512"
        )
    return mean, spread


def build_trace(traffic: Traffic, seed: int = 0) -> tuple[list[TraceRequest], int | None]:
    """The requests to simulate and the closed-loop concurrency (None: open loop by arrival times)."""
    if traffic.trace_path:
        return load_trace(traffic.trace_path), None
    rng = random.Random(seed)
    if traffic.concurrency is not None:
        count = traffic.requests or min(
            MAX_REQUESTS, max(MIN_REQUESTS, CLOSED_LOOP_ROUNDS * traffic.concurrency)
        )
        lengths = _all_lengths(traffic, count, rng, seed)
        return [TraceRequest(0.0, *pair) for pair in lengths], traffic.concurrency
    if traffic.rate is None:  # a burst: every request at once
        lengths = _all_lengths(traffic, traffic.requests or MIN_REQUESTS, rng, seed)
        return [TraceRequest(0.0, *pair) for pair in lengths], None
    count = traffic.requests or min(MAX_REQUESTS, max(MIN_REQUESTS, round(traffic.rate * MIN_DURATION_S)))
    shaped = (
        sharegpt_lengths(count, traffic.prompt_tokens, traffic.output_tokens, seed)
        if traffic.length_shape == "sharegpt"
        else None
    )
    out: list[TraceRequest] = []
    t = 0.0
    for i in range(count):
        t += rng.expovariate(traffic.rate)
        out.append(TraceRequest(t, *(shaped[i] if shaped else _lengths(traffic, rng))))
    return out, None


def _all_lengths(traffic: Traffic, count: int, rng: random.Random, seed: int) -> list[tuple[int, int]]:
    if traffic.length_shape == "sharegpt":
        return sharegpt_lengths(count, traffic.prompt_tokens, traffic.output_tokens, seed)
    return [_lengths(traffic, rng) for _ in range(count)]


def _lengths(traffic: Traffic, rng: random.Random) -> tuple[int, int]:
    prompt = traffic.prompt_tokens + (
        rng.randint(-traffic.prompt_spread, traffic.prompt_spread) if traffic.prompt_spread else 0
    )
    output = traffic.output_tokens + (
        rng.randint(-traffic.output_spread, traffic.output_spread) if traffic.output_spread else 0
    )
    return max(1, prompt), max(1, output)
