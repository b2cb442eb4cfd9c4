"""Step time: how long one engine step takes, from the planner's performance model or a formula.

The scheduler only needs :class:`StepTimer`; ``kubellm.planning.performance.PerformanceModel`` satisfies
it, and :class:`LinearStepTimer` is a transparent formula for tests and what-if studies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class StepTimer(Protocol):
    """Anything that prices one mixed (chunked-prefill + decode) step in milliseconds."""

    def step_ms(self, prefill_tokens: int, decode_seqs: int, decode_context_tokens: int) -> float: ...


@dataclass(frozen=True, slots=True)
class LinearStepTimer:
    """``overhead + per_seq × seqs + per_context_token × context + per_prefill_token × prefill`` (ms)."""

    overhead_ms: float = 5.0
    per_seq_ms: float = 0.05
    per_context_token_ms: float = 0.0
    per_prefill_token_ms: float = 0.02

    def step_ms(self, prefill_tokens: int, decode_seqs: int, decode_context_tokens: int) -> float:
        if prefill_tokens <= 0 and decode_seqs <= 0:
            return 0.0
        return (
            self.overhead_ms
            + self.per_seq_ms * decode_seqs
            + self.per_context_token_ms * decode_context_tokens
            + self.per_prefill_token_ms * prefill_tokens
        )
