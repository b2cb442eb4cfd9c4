"""--tokenizer: a local tokenizer.json sizes prompts and counts output when the server sends no usage."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kubellm.bench.runner import BenchRun
from kubellm.bench.workload import _WORDS, Tokenizer, build_workload
from kubellm.errors import UsageError
from kubellm.spec.bench import BenchConfig, TokenSource

tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A word-level tokenizer: one word = one token (the server's words and the prompt words)."""
    words = ["<unk>", *[f"tok{i}" for i in range(128)], *_WORDS]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def test_output_tokens_are_counted_by_the_tokenizer_without_usage(
    timed_url: str, tokenizer_path: Path
) -> None:
    config = BenchConfig(
        url=timed_url,
        model="no-usage",
        concurrency=[2],
        requests=4,
        output_tokens=6,
        tokenizer=str(tokenizer_path),
    )
    tok = Tokenizer(str(tokenizer_path))
    point = asyncio.run(BenchRun(config, build_workload(config, tok), count_tokens=tok.count).run()).points[0]
    assert point.token_source == TokenSource.TOKENIZER
    assert point.output_tokens_mean == 6


def test_prompts_are_cut_to_exact_token_counts(tokenizer_path: Path) -> None:
    tok = Tokenizer(str(tokenizer_path.parent))  # a directory holding tokenizer.json works too
    config = BenchConfig(url="http://x", model="m", input_tokens=12, shared_prefix=0.25, prompts=20)
    for body in build_workload(config, tok).bodies:
        prompt = json.loads(body)["messages"][0]["content"]
        assert tok.count(prompt) == 12


def test_missing_tokenizer_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such tokenizer file"):
        Tokenizer(str(tmp_path / "nope.json"))
