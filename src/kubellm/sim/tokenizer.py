"""A deterministic stand-in tokenizer, so prompt lengths mean something without model files.

Rule (documented in docs/sim.md): text is cut into pieces by the regular expression
``\\s?\\w{1,4}|\\s?[^\\w\\s]|\\s+`` — at most four word characters with an optional leading space, one
punctuation mark with an optional leading space, or a run of whitespace. That gives about four
characters per token on English text, close to the BPE tokenizers of Llama 3 or Qwen. A piece's id is
the CRC-32 of its UTF-8 bytes modulo :data:`VOCAB_SIZE`, so the same text always gives the same ids.

Chat messages become text through :func:`render_chat`, a fixed template:
``<|role|>\\n{content}\\n`` per message, then ``<|assistant|>\\n``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

VOCAB_SIZE = 128_256  # Llama 3's vocabulary size; only the range of the ids depends on it
_PIECE = re.compile(r"\s?\w{1,4}|\s?[^\w\s]|\s+")


def tokenize(text: str) -> list[str]:
    """The pieces of ``text`` (concatenated they give ``text`` back)."""
    return _PIECE.findall(text)


def encode(text: str) -> list[int]:
    """Token ids of ``text``."""
    return [zlib.crc32(piece.encode("utf-8")) % VOCAB_SIZE for piece in _PIECE.findall(text)]


def count_tokens(text: str) -> int:
    """Number of tokens in ``text`` (cheaper than ``len(encode(text))``)."""
    return len(_PIECE.findall(text))


def render_chat(messages: Sequence[tuple[str, str]]) -> str:
    """The prompt text of a chat: ``(role, content)`` pairs through the fixed template."""
    parts = [f"<|{role}|>\n{content}\n" for role, content in messages]
    parts.append("<|assistant|>\n")
    return "".join(parts)
