"""Workloads: length distributions, shared prefixes, ShareGPT files."""

from __future__ import annotations

import json
import random
from pathlib import Path
from statistics import mean

import pytest

from kubellm.bench.workload import build_workload, sample_lengths
from kubellm.errors import UsageError
from kubellm.spec.bench import BenchConfig


@pytest.mark.parametrize("dist", ["uniform", "normal", "lognormal"])
def test_length_distributions_keep_their_mean_and_vary(dist: str) -> None:
    values = sample_lengths(dist, 200, 0.25, 4000, random.Random(1))
    assert mean(values) == pytest.approx(200, rel=0.03)
    assert min(values) >= 1 and len(set(values)) > 20


def test_fixed_lengths_and_bodies_ask_for_them() -> None:
    config = BenchConfig(url="http://x", model="m", input_tokens=30, output_tokens=7, prompts=5)
    work = build_workload(config)
    body = json.loads(work.bodies[0])
    assert body["max_tokens"] == 7 and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True} and body["ignore_eos"] is True
    assert len(body["messages"][0]["content"].split()) == 30
    assert len({b for b in work.bodies}) == 5  # distinct prompts


def test_shared_prefix_is_common_to_every_prompt() -> None:
    config = BenchConfig(
        url="http://x", model="m", api="completions", input_tokens=40, shared_prefix=0.5, prompts=4
    )
    prompts = [json.loads(b)["prompt"].split() for b in build_workload(config).bodies]
    assert all(p[:20] == prompts[0][:20] for p in prompts)
    assert len({tuple(p[20:]) for p in prompts}) == 4


def test_sharegpt_file(tmp_path: Path) -> None:
    data = [
        {"conversations": [{"from": "human", "value": "hello there"}, {"from": "gpt", "value": "x" * 40}]},
        {"conversations": [{"from": "gpt", "value": "skipped: starts with the model"}]},
    ]
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(data))
    work = build_workload(BenchConfig(url="http://x", model="m", dataset=str(path), prompts=3))
    body = json.loads(work.bodies[0])
    assert body["messages"][0]["content"] == "hello there"
    assert body["max_tokens"] == 10  # 40 characters / 4 without a tokenizer
    assert "1 conversations" in work.description


def test_sharegpt_without_conversations_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match="no usable conversations"):
        build_workload(BenchConfig(url="http://x", model="m", dataset=str(path)))
