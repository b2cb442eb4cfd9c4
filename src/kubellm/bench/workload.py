"""Request bodies, built before the run: synthetic lengths, shared prefixes, ShareGPT files, tokenizers.

Without a tokenizer, a synthetic prompt of N tokens is N common English words, each of which is one
token (with its leading space) in the usual BPE vocabularies; the server's ``usage`` reports the real
count. With ``--tokenizer`` the prompt is cut to exactly N tokens of that tokenizer.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubellm.errors import UsageError
from kubellm.spec.bench import BenchConfig

# Common words that are single tokens (with a leading space) in GPT-2, Llama-3 and similar vocabularies.
_WORDS = (  # noqa: SIM905 (one string reads better than 200 quoted words)
    "the of and to in is was for on that with as by at from his her they this have had are not but "
    "be one all were when we there can an which their said if do will each about how up out them "
    "then she many some so these would other into has more two time like could no see make than "
    "first been its who now people my made over did down only way find use may water long little "
    "very after words called just where most know get through back much before go good new write our "
    "used me man too any day same right look think also around another came come work three word "
    "must because does part even place well such here take why things help put years different away "
    "again off went old number great tell men say small every found still between name should home "
    "big give air line set own under read last never us left end along while might next sound below "
    "saw something thought both few those always looked show large often together asked house world "
    "going want school important until form food keep children feet land side without boy once "
    "animals life enough took sometimes four head above kind began "
).split()


class Tokenizer:
    """A local Hugging Face ``tokenizer.json`` (needs the optional ``tokenizers`` package)."""

    def __init__(self, path: str) -> None:
        try:
            from tokenizers import Tokenizer as HfTokenizer  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise UsageError(
                "--tokenizer needs the 'tokenizers' package", "pip install tokenizers (or drop --tokenizer)"
            ) from None
        file = Path(path)
        if file.is_dir():
            file = file / "tokenizer.json"
        if not file.is_file():
            raise UsageError(f"{file}: no such tokenizer file", "give the path of a tokenizer.json")
        try:
            self._tok = HfTokenizer.from_file(str(file))
        except Exception as exc:  # the library raises bare Exceptions on bad files
            raise UsageError(
                f"{file}: not a tokenizer.json ({exc})", "give a Hugging Face tokenizer.json"
            ) from None

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (no special tokens)."""
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def truncate(self, text: str, tokens: int) -> str:
        """``text`` cut to at most ``tokens`` tokens."""
        ids = self._tok.encode(text, add_special_tokens=False).ids
        return str(self._tok.decode(ids[:tokens])) if len(ids) > tokens else text


@dataclass(frozen=True, slots=True)
class Workload:
    """Pre-built request bodies and what they ask for."""

    bodies: list[bytes]
    input_tokens_mean: float
    output_tokens_mean: float
    description: str


def sample_lengths(dist: str, mean: int, spread: float, n: int, rng: random.Random) -> list[int]:
    """``n`` lengths ≥ 1 around ``mean``: fixed, uniform (±spread·mean), normal or lognormal (cv = spread)."""
    if dist == "fixed" or spread == 0:
        return [mean] * n
    if dist == "uniform":
        low, high = max(1, round(mean * (1 - spread))), max(1, round(mean * (1 + spread)))
        return [rng.randint(low, high) for _ in range(n)]
    if dist == "normal":
        return [max(1, round(rng.gauss(mean, spread * mean))) for _ in range(n)]
    if dist == "lognormal":
        sigma = math.sqrt(math.log(1 + spread * spread))
        mu = math.log(mean) - sigma * sigma / 2  # keeps the mean at `mean`
        return [max(1, round(rng.lognormvariate(mu, sigma))) for _ in range(n)]
    raise UsageError(f"unknown length distribution {dist!r}", "use fixed, uniform, normal or lognormal")


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(_WORDS, k=n))


def _body(config: BenchConfig, prompt: str, max_tokens: int) -> bytes:
    data: dict[str, Any] = {"model": config.model, "max_tokens": max_tokens, "stream": True}
    if config.api == "chat":
        data["messages"] = [{"role": "user", "content": prompt}]
    else:
        data["prompt"] = prompt
    data["stream_options"] = {"include_usage": True}
    if config.ignore_eos:
        data["ignore_eos"] = True
    return json.dumps(data, separators=(",", ":")).encode()


def synthetic(config: BenchConfig, tokenizer: Tokenizer | None) -> Workload:
    """Random-word prompts with the configured length distributions and shared-prefix fraction."""
    rng = random.Random(config.seed)
    n = config.prompts
    ins = sample_lengths(config.length_dist, config.input_tokens, config.length_spread, n, rng)
    outs = sample_lengths(config.length_dist, config.output_tokens, config.length_spread, n, rng)
    prefix_len = round(config.shared_prefix * config.input_tokens)
    prefix = _words(random.Random(config.seed + 1), prefix_len) if prefix_len else ""
    bodies = []
    for length, out in zip(ins, outs, strict=True):
        unique = max(0, length - prefix_len)
        prompt = (prefix + " " + _words(rng, unique)).strip() if unique else prefix
        if tokenizer is not None:
            prompt = tokenizer.truncate(prompt, length)
        bodies.append(_body(config, prompt, out))
    desc = (
        f"synthetic {config.length_dist}: input {config.input_tokens}, output {config.output_tokens} tokens"
        + (f", spread {config.length_spread:g}" if config.length_dist != "fixed" else "")
        + (f", shared prefix {config.shared_prefix:.0%}" if prefix_len else "")
    )
    return Workload(bodies, sum(ins) / n, sum(outs) / n, desc)


def sharegpt(config: BenchConfig, path: str, tokenizer: Tokenizer | None) -> Workload:
    """Prompts and output lengths from a ShareGPT-format JSON file (first human turn, first reply)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", "give the path of a ShareGPT JSON file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not JSON ({exc})", "give a ShareGPT-format JSON file") from None
    count: Callable[[str], int] = tokenizer.count if tokenizer else (lambda t: max(1, round(len(t) / 4)))
    pairs: list[tuple[str, int, int]] = []
    for item in data if isinstance(data, list) else []:
        turns = item.get("conversations") if isinstance(item, dict) else None
        if not isinstance(turns, list) or len(turns) < 2:
            continue
        first, reply = turns[0], turns[1]
        if not (isinstance(first, dict) and isinstance(reply, dict)):
            continue
        prompt, answer = first.get("value"), reply.get("value")
        if (
            first.get("from") not in ("human", "user")
            or not isinstance(prompt, str)
            or not isinstance(answer, str)
        ):
            continue
        if prompt.strip() and answer.strip():
            pairs.append((prompt, count(prompt), max(1, count(answer))))
    if not pairs:
        raise UsageError(
            f"{path}: no usable conversations",
            'expected a JSON list of {"conversations": [{"from": "human", "value": …}, {"from": "gpt", …}]}',
        )
    rng = random.Random(config.seed)
    chosen = [pairs[rng.randrange(len(pairs))] for _ in range(config.prompts)]
    bodies = [_body(config, p, out) for p, _, out in chosen]
    how = "tokenizer" if tokenizer else "characters/4"
    return Workload(
        bodies,
        sum(c[1] for c in chosen) / len(chosen),
        sum(c[2] for c in chosen) / len(chosen),
        f"ShareGPT {Path(path).name}: {len(pairs)} conversations, lengths by {how}",
    )


def build_workload(config: BenchConfig, tokenizer: Tokenizer | None = None) -> Workload:
    """The workload the config asks for."""
    if config.dataset:
        return sharegpt(config, config.dataset, tokenizer)
    return synthetic(config, tokenizer)
