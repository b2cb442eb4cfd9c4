"""Request lengths with the spread of ShareGPT conversations, at a run's mean prompt and answer lengths.

Serving benchmarks that replay ShareGPT (``vllm bench serve --dataset-name sharegpt``,
``sglang.bench_serving``) send the first human turn of each conversation as the prompt and ask for as
many tokens as the first answer had. Their lengths are long-tailed: most prompts are a few dozen
tokens, a few are near the benchmark's cap. Replaying such a run with its mean lengths gives every
request the same prompt and answer, so no long answer keeps the end of a burst going and every
request's decode steps see the same batch.

The shape here is a published histogram of one such run: the request-length histograms in SGLang's
Prometheus metrics example (``docs/references/production_metrics.md`` of sgl-project/sglang, 2,104
requests; means 238 prompt / 202 answer tokens, every prompt ≤ 1,000 and answer ≤ 2,000 tokens, as the
benchmarks' ShareGPT sampling leaves them). The source does not name the data set; its means and caps
are those of ShareGPT under vLLM's filter (``benchmarks/benchmark_serving.py``'s
``sample_sharegpt_requests``: prompt and answer ≥ 4 tokens, prompt ≤ 1,024, prompt + answer ≤ 2,048).
Within a bucket lengths are spread log-uniformly.

Lengths are drawn as stratified quantiles (one per request, evenly spaced in probability), shuffled
with a seeded generator, then scaled so the run's means are kept exactly (total tokens =
round(mean × requests)). Deterministic for a seed.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence

# (upper bucket edge in tokens, requests at or below it) — cumulative, from the source above
SHAREGPT_PROMPT_HISTOGRAM: tuple[tuple[int, int], ...] = (
    (5, 22), (10, 191), (20, 511), (50, 825), (100, 997), (200, 1182), (500, 1748), (1000, 2102),
    (1024, 2104),  # the source's last bucket is (1000, 2000] with 2 requests: the filter caps it at 1,024
)  # fmt: skip
SHAREGPT_OUTPUT_HISTOGRAM: tuple[tuple[int, int], ...] = (
    (5, 49), (10, 202), (20, 448), (50, 814), (100, 979), (200, 1266), (500, 1883), (1000, 2095),
    (2000, 2104),
)  # fmt: skip
MIN_TOKENS = 4  # the benchmarks' filter drops shorter prompts and answers
MAX_TOTAL_TOKENS = 2048  # … and pairs longer than this


def quantile(histogram: Sequence[tuple[int, int]], p: float, low: int = MIN_TOKENS) -> float:
    """The length below which a share ``p`` (0..1) of requests fall, log-linear inside a bucket."""
    total = histogram[-1][1]
    target = min(max(p, 0.0), 1.0) * total
    lower_edge, lower_count = float(low), 0
    for edge, count in histogram:
        if target <= count and count > lower_count:
            fraction = (target - lower_count) / (count - lower_count)
            return float(math.exp(math.log(lower_edge) + fraction * (math.log(edge) - math.log(lower_edge))))
        lower_edge, lower_count = float(max(edge, low)), count
    return float(histogram[-1][0])


@functools.cache
def shape_mean(histogram: tuple[tuple[int, int], ...], points: int = 4096) -> float:
    """The mean length of the shape itself (before scaling), by the same stratified quantiles."""
    return sum(quantile(histogram, (i + 0.5) / points) for i in range(points)) / points


def apportion(weights: Sequence[float], total: int) -> list[int]:
    """Integers ≥ 1 proportional to ``weights`` that add up to ``total`` exactly (largest remainder).
    ``total`` must be at least ``len(weights)``."""
    count = len(weights)
    if count == 0:
        return []
    if total < count:
        raise ValueError(f"cannot give {count} requests at least 1 token each from {total}")
    spare = total - count
    weight_sum = sum(weights)
    shares = [spare * w / weight_sum if weight_sum > 0 else spare / count for w in weights]
    out = [1 + math.floor(s) for s in shares]
    left = total - sum(out)
    by_remainder = sorted(range(count), key=lambda i: (shares[i] - math.floor(shares[i]), -i), reverse=True)
    for i in by_remainder[:left]:
        out[i] += 1
    return out


def sharegpt_lengths(
    requests: int, mean_prompt: float, mean_output: float, seed: int = 0
) -> list[tuple[int, int]]:
    """``requests`` (prompt, answer) pairs with ShareGPT's spread whose means are the given ones
    (totals = round(mean × requests)); the same seed gives the same list."""
    if requests <= 0:
        return []
    rng = random.Random(seed)
    prompts = [quantile(SHAREGPT_PROMPT_HISTOGRAM, (i + 0.5) / requests) for i in range(requests)]
    outputs = [quantile(SHAREGPT_OUTPUT_HISTOGRAM, (i + 0.5) / requests) for i in range(requests)]
    rng.shuffle(prompts)
    rng.shuffle(outputs)
    # the benchmarks' filter: an answer does not take the pair past the cap
    outputs = [min(o, max(MIN_TOKENS, MAX_TOTAL_TOKENS - p)) for p, o in zip(prompts, outputs, strict=True)]
    prompt_total = max(requests, round(mean_prompt * requests))
    output_total = max(requests, round(mean_output * requests))
    return list(zip(apportion(prompts, prompt_total), apportion(outputs, output_total), strict=True))


def sharegpt_longest(mean_prompt: float, mean_output: float) -> int:
    """An upper bound on prompt + answer of any pair :func:`sharegpt_lengths` gives (for max_model_len)."""
    scale = max(
        mean_prompt / shape_mean(SHAREGPT_PROMPT_HISTOGRAM),
        mean_output / shape_mean(SHAREGPT_OUTPUT_HISTOGRAM),
    )
    return math.ceil(MAX_TOTAL_TOKENS * scale) + 4
