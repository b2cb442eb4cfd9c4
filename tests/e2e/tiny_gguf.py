"""A tiny llama GGUF built from nothing: 2 layers, 64-wide, a ~300-token SentencePiece-style vocabulary.

The weights are random (seeded), so the text it writes is gibberish, but llama.cpp loads it, tokenizes
with it, and generates with it exactly as it would with a real checkpoint: the whole serving path is
exercised without downloading anything. Tensor names and metadata keys follow llama.cpp's llama
architecture as the ``gguf`` package names them (gguf-py, https://github.com/ggml-org/llama.cpp/tree/master/gguf-py).
"""

from __future__ import annotations

from pathlib import Path

N_EMBD = 64
N_HEAD = 4
N_LAYER = 2
N_FF = 128
N_CTX = 512

_WORDS = [
    "the",
    "a",
    "an",
    "and",
    "of",
    "to",
    "in",
    "is",
    "it",
    "that",
    "for",
    "on",
    "with",
    "as",
    "was",
    "he",
    "she",
    "they",
    "we",
    "you",
    "I",
    "be",
    "at",
    "by",
    "this",
    "had",
    "not",
    "are",
    "but",
    "from",
    "or",
    "have",
    "one",
    "all",
    "were",
    "there",
    "when",
    "your",
    "can",
    "said",
    "use",
    "each",
    "which",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
    "other",
    "about",
    "out",
    "many",
    "then",
    "them",
    "these",
    "so",
    "some",
    "her",
    "would",
    "make",
    "like",
    "him",
    "into",
    "time",
    "has",
    "look",
    "two",
    "more",
    "write",
    "go",
    "see",
    "number",
    "no",
    "way",
    "could",
    "people",
    "my",
    "than",
    "first",
    "water",
    "been",
    "call",
    "who",
    "oil",
    "its",
    "now",
    "find",
    "long",
    "down",
    "day",
    "did",
    "get",
    "come",
    "made",
    "may",
    "part",
    "hello",
    "world",
    "model",
    "token",
    "llama",
    "server",
    "local",
    "kubellm",
    "gateway",
    "engine",
    "reply",
    "answer",
]


def tokens() -> tuple[list[str], list[float], list[int]]:
    """The vocabulary: control tokens, the 256 byte-fallback tokens llama.cpp needs, then words."""
    import gguf

    pieces = ["<unk>", "<s>", "</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    for byte in range(256):
        pieces.append(f"<0x{byte:02X}>")
        types.append(gguf.TokenType.BYTE)
    seen = set(pieces)

    def add(piece: str) -> None:
        if piece not in seen:
            seen.add(piece)
            pieces.append(piece)
            types.append(gguf.TokenType.NORMAL)

    for char in "abcdefghijklmnopqrstuvwxyz\u2581.,!?":
        add(char)
    # Every prefix of '▁word' is a piece, so SentencePiece's pairwise merges can grow whole words.
    for word in _WORDS:
        for end in range(2, len(word) + 2):
            add(f"\u2581{word}"[:end])
    # Longer pieces score higher, so merges prefer them.
    scores = [
        0.0 if t != gguf.TokenType.NORMAL else float(len(p)) - 10.0
        for p, t in zip(pieces, types, strict=True)
    ]
    return pieces, scores, [int(t) for t in types]


def build_tiny_gguf(path: Path, seed: int = 0) -> Path:
    """Write the tiny model to ``path`` (a few hundred KiB) and return it."""
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    pieces, scores, types = tokens()
    n_vocab = len(pieces)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("kubellm-tiny-llama")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(n_vocab, N_EMBD))
    for layer in range(N_LAYER):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{prefix}.attn_q.weight", weight(N_EMBD, N_EMBD))
        writer.add_tensor(f"{prefix}.attn_k.weight", weight(N_EMBD, N_EMBD))
        writer.add_tensor(f"{prefix}.attn_v.weight", weight(N_EMBD, N_EMBD))
        writer.add_tensor(f"{prefix}.attn_output.weight", weight(N_EMBD, N_EMBD))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weight(N_EMBD, N_FF))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    output = weight(n_vocab, N_EMBD)
    output[2] = 0.0  # end-of-sequence logit pinned at 0 while others spread wide: greedy decoding runs on
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
