"""The documented stand-in tokenizer and the filler output."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubellm.sim import tokenizer
from kubellm.sim.filler import WORDS, filler_text


@given(st.text(max_size=200))
def test_pieces_give_the_text_back(text: str) -> None:
    assert "".join(tokenizer.tokenize(text)) == text


def test_about_four_characters_per_token() -> None:
    assert tokenizer.tokenize("Hello, wonderful world") == [
        "Hell",
        "o",
        ",",
        " wond",
        "erfu",
        "l",
        " worl",
        "d",
    ]


def test_ids_are_stable_and_in_range() -> None:
    ids = tokenizer.encode("the same text")
    assert ids == tokenizer.encode("the same text")
    assert all(0 <= i < tokenizer.VOCAB_SIZE for i in ids)
    assert len(ids) == tokenizer.count_tokens("the same text")


def test_every_filler_word_is_one_token() -> None:
    assert all(tokenizer.count_tokens(w) == 1 for w in WORDS)
    assert tokenizer.count_tokens(filler_text(0, 100, seed=3)) == 100
