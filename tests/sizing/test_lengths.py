"""ShareGPT-shaped request lengths: the run's means kept exactly, the published spread, seeded."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubellm.errors import UsageError
from kubellm.sizing.lengths import (
    SHAREGPT_OUTPUT_HISTOGRAM,
    SHAREGPT_PROMPT_HISTOGRAM,
    apportion,
    quantile,
    shape_mean,
    sharegpt_lengths,
    sharegpt_longest,
)
from kubellm.sizing.traffic import Traffic, build_trace, parse_traffic


@given(st.integers(1, 3000), st.floats(1, 4000), st.floats(1, 4000), st.integers(0, 10_000))
def test_the_means_are_kept_exactly(requests: int, mean_prompt: float, mean_output: float, seed: int) -> None:
    pairs = sharegpt_lengths(requests, mean_prompt, mean_output, seed)
    assert len(pairs) == requests
    assert sum(p for p, _ in pairs) == max(requests, round(mean_prompt * requests))
    assert sum(o for _, o in pairs) == max(requests, round(mean_output * requests))
    assert all(p >= 1 and o >= 1 for p, o in pairs)
    assert max(p + o for p, o in pairs) <= sharegpt_longest(mean_prompt, mean_output)


@given(st.integers(1, 500), st.integers(0, 10_000))
def test_the_same_seed_gives_the_same_lengths(requests: int, seed: int) -> None:
    assert sharegpt_lengths(requests, 217, 201, seed) == sharegpt_lengths(requests, 217, 201, seed)


def test_different_seeds_pair_prompts_and_answers_differently_with_the_same_spread() -> None:
    a, b = sharegpt_lengths(200, 217, 201, 1), sharegpt_lengths(200, 217, 201, 2)
    assert a != b
    assert sorted(p for p, _ in a) == sorted(p for p, _ in b)


def test_the_spread_is_the_published_long_tail() -> None:
    pairs = sharegpt_lengths(1000, 217, 201, seed=0)
    prompts = [p for p, _ in pairs]
    outputs = [o for _, o in pairs]
    # the source's medians are about half its means (238 → ~120 prompt, 202 → ~120 answer tokens)
    assert 90 <= statistics.median(prompts) <= 140
    assert 90 <= statistics.median(outputs) <= 140
    # a tenth of the prompts are under 10 tokens, a few near the 1,024 cap
    assert 0.05 <= sum(p < 10 for p in prompts) / 1000 <= 0.15
    assert max(prompts) > 700
    # the benchmarks' filter: no pair past 2,048 tokens before scaling (217/237 shrinks them)
    assert max(p + o for p, o in pairs) <= 2048


def test_the_shape_reproduces_the_published_means() -> None:
    # prompt 500552 / 2104 = 238, answer 424529 / 2104 = 202 tokens in the source
    assert shape_mean(SHAREGPT_PROMPT_HISTOGRAM) == pytest.approx(238, rel=0.03)
    assert shape_mean(SHAREGPT_OUTPUT_HISTOGRAM) == pytest.approx(202, rel=0.05)


def test_quantiles_follow_the_histogram_at_its_edges() -> None:
    assert quantile(SHAREGPT_PROMPT_HISTOGRAM, 0.0) == pytest.approx(4)
    assert quantile(SHAREGPT_PROMPT_HISTOGRAM, 997 / 2104) == pytest.approx(100)
    assert quantile(SHAREGPT_PROMPT_HISTOGRAM, 1.0) == pytest.approx(1024)
    assert quantile(SHAREGPT_OUTPUT_HISTOGRAM, 1748 / 2104) < quantile(SHAREGPT_OUTPUT_HISTOGRAM, 0.9)


@given(st.lists(st.floats(0, 1e4), min_size=1, max_size=200), st.integers(0, 10**6))
def test_apportion_adds_up_and_gives_everyone_at_least_one(weights: list[float], extra: int) -> None:
    total = len(weights) + extra
    out = apportion(weights, total)
    assert sum(out) == total and min(out) >= 1


def test_apportion_refuses_fewer_tokens_than_requests() -> None:
    with pytest.raises(ValueError, match="at least 1 token"):
        apportion([1.0, 2.0], 1)


def test_traffic_with_sharegpt_lengths_replays_them_in_every_load() -> None:
    t = parse_traffic("rate=4,prompt=217,output=194,lengths=sharegpt,requests=300")
    assert t.length_shape == "sharegpt" and "ShareGPT" in t.label
    trace, _ = build_trace(t, seed=3)
    assert sum(r.prompt_tokens for r in trace) == 217 * 300
    assert [(r.prompt_tokens, r.output_tokens) for r in trace] == sharegpt_lengths(300, 217, 194, 3)
    burst = Traffic(prompt_tokens=217, output_tokens=194, requests=50, length_shape="sharegpt")
    closed = Traffic(
        concurrency=4, prompt_tokens=217, output_tokens=194, requests=50, length_shape="sharegpt"
    )
    for traffic in (burst, closed):
        lengths = [(r.prompt_tokens, r.output_tokens) for r in build_trace(traffic, seed=5)[0]]
        assert lengths == sharegpt_lengths(50, 217, 194, 5)
    assert t.longest_request == sharegpt_longest(217, 194) < 2048


def test_an_unknown_length_shape_says_what_to_write() -> None:
    with pytest.raises(UsageError) as err:
        parse_traffic("rate=4,lengths=zipf")
    assert "lengths=sharegpt" in (err.value.fix or "")
