"""The engine without I/O: config, KV pool, scheduler, step timer and per-request choices.

Real time (:mod:`kubellm.sim.engine`) and virtual time (:mod:`kubellm.sim.virtual`) drive the same
core, so a what-if study and a live simulator behave alike.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from kubellm.sim.arrivals import FrontEnd
from kubellm.sim.blocks import KvBlockPool
from kubellm.sim.config import SimConfig
from kubellm.sim.scheduler import ContinuousBatchScheduler, SchedulerLimits, SimRequest, Step
from kubellm.sim.timing import StepTimer

UNSET_MAX_TOKENS_MEAN = 256.0  # mean answer length when a client sets no max_tokens


class SimCore:
    """One simulated engine replica."""

    def __init__(self, config: SimConfig, timer: StepTimer) -> None:
        self.config = config
        self.timer = timer
        self.pool = KvBlockPool(config.kv_blocks, config.block_size, config.prefix_caching)
        self.scheduler = ContinuousBatchScheduler(
            SchedulerLimits(config.max_num_seqs, config.max_num_batched_tokens, config.max_model_len),
            self.pool,
        )
        self._rng = random.Random(config.seed)
        self._front = FrontEnd(config)

    def new_request(
        self,
        request_id: str,
        prompt_tokens: int,
        max_tokens: int,
        arrival_s: float,
        *,
        block_hashes: list[int] | None = None,
        ignore_eos: bool = False,
        max_tokens_given: bool = True,
    ) -> SimRequest:
        """A request with its output length decided: ``max_tokens``, or an earlier stop drawn from
        the seeded output-length distribution when one is configured and ``ignore_eos`` is false.

        A request that left ``max_tokens`` unset (the engine then allows the rest of the context) stops
        like a real model would at its end-of-sequence token: after a drawn length with mean
        ``stop_mean_tokens``, or :data:`UNSET_MAX_TOKENS_MEAN` when none is configured.
        """
        target = max_tokens
        mean = self.config.stop_mean_tokens
        if mean is None and not max_tokens_given:
            mean = UNSET_MAX_TOKENS_MEAN
        if mean is not None and not ignore_eos:
            target = min(max_tokens, 1 + int(self._rng.expovariate(1.0 / max(mean - 1.0, 1e-9))))
        return SimRequest(
            request_id=request_id,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            arrival_s=arrival_s,
            target_tokens=target,
            block_hashes=block_hashes or [],
        )

    def entry_delay_s(self, now_s: float) -> float:
        """How long the request sent at ``now_s`` spends in the API server before the scheduler sees it
        (seeded; the same sequence virtual time draws, in the order requests are sent)."""
        return self._front.enters_s(now_s) - now_s

    def step_s(self, step: Step) -> float:
        """Duration of a scheduled step in (simulated) seconds."""
        return self.timer.step_ms(step.prefill_tokens, step.decode_seqs, step.decode_context_tokens) / 1e3

    def prompt_block_hashes(self, token_ids: Sequence[int]) -> list[int]:
        """Chained hashes of the full blocks of a tokenized prompt (empty without prefix caching)."""
        if not self.config.prefix_caching:
            return []
        bs = self.config.block_size
        hashes: list[int] = []
        parent = 0
        for start in range(0, len(token_ids) - bs + 1, bs):
            parent = hash((parent, tuple(token_ids[start : start + bs])))
            hashes.append(parent)
        return hashes

    def synthetic_block_hashes(
        self, prompt_tokens: int, prefix: str | None, prefix_tokens: int, key: int
    ) -> list[int]:
        """Block hashes of a prompt known only by length: ``prefix_tokens`` shared under ``prefix``,
        the rest unique to ``key``."""
        if not self.config.prefix_caching:
            return []
        bs = self.config.block_size
        hashes: list[int] = []
        parent = 0
        shared = prefix_tokens // bs if prefix is not None else 0
        for i in range(prompt_tokens // bs):
            parent = hash((parent, prefix, i) if i < shared else (parent, key, i))
            hashes.append(parent)
        return hashes
