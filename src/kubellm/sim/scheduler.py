"""A continuous-batching scheduler after vLLM's (v1): token budget, chunked prefill, preemption.

Pure and clock-free: callers pass the time in. Each step:

1. Running requests in admission order get their tokens — one for a decoding request, the rest of
   the prompt (cut to the remaining token budget) for one still in prefill. When the KV pool cannot
   grow a request, the most recently admitted running request is preempted (its blocks freed, its
   progress dropped, to be recomputed later) until the request fits or is itself the one preempted.
2. If nothing was preempted, waiting requests are admitted in arrival order while the budget lasts,
   fewer than ``max_num_seqs`` run and the pool holds their (possibly cached) prefix plus this
   step's chunk.

A request that finishes its prompt (or its recomputation) in a step emits a token at the end of it.
Between events a batch of pure decodes repeats unchanged, which :meth:`ContinuousBatchScheduler.fast_forward`
applies ``k`` steps at a time (virtual time uses it; results equal step-by-step stepping).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kubellm.sim.blocks import BlockHolding, KvBlockPool

WAITING = "waiting"
RUNNING = "running"
FINISHED = "finished"
ABORTED = "aborted"


@dataclass(slots=True, eq=False)
class SimRequest:
    """One request as the scheduler sees it; ``target_tokens`` ≤ ``max_tokens`` is what it will generate."""

    request_id: str
    prompt_tokens: int
    max_tokens: int
    arrival_s: float
    target_tokens: int = 0  # 0 = max_tokens
    block_hashes: list[int] = field(default_factory=list)  # chained hashes of the full prompt blocks
    num_computed: int = 0
    num_output: int = 0
    status: str = WAITING
    holding: BlockHolding = field(default_factory=BlockHolding)
    published: int = 0  # prompt blocks already offered to the prefix cache
    cached_tokens: int = 0  # prompt tokens found in the prefix cache at first admission
    scheduled_s: float | None = None
    first_token_s: float | None = None
    last_token_s: float = 0.0
    finish_s: float | None = None
    finish_reason: str | None = None
    num_preemptions: int = 0

    def __post_init__(self) -> None:
        if self.target_tokens <= 0 or self.target_tokens > self.max_tokens:
            self.target_tokens = self.max_tokens

    @property
    def num_tokens(self) -> int:
        """Prompt plus generated tokens: what the KV cache must hold after the next step."""
        return self.prompt_tokens + self.num_output


@dataclass(slots=True)
class Step:
    """What one engine step runs, decided by :meth:`ContinuousBatchScheduler.schedule`."""

    items: list[tuple[SimRequest, int]]
    prefill_tokens: int
    decode_seqs: int
    decode_context_tokens: int
    preempted: list[SimRequest]

    @property
    def empty(self) -> bool:
        return not self.items


@dataclass(slots=True)
class StepResult:
    """What a step produced: tokens, finished requests and the gaps since each request's last token."""

    emitted: list[SimRequest]
    first_tokens: list[SimRequest]
    finished: list[SimRequest]
    common_gap_s: float  # gap of every request whose previous token ended the previous step
    common_gap_count: int
    other_gaps_s: list[float]
    prompt_tokens: int  # prompt tokens computed (recomputation included, cache hits not)


@dataclass(frozen=True, slots=True)
class SchedulerLimits:
    max_num_seqs: int
    max_num_batched_tokens: int
    max_model_len: int


class ContinuousBatchScheduler:
    """Decides every step which requests run and with how many tokens."""

    def __init__(self, limits: SchedulerLimits, pool: KvBlockPool) -> None:
        self.limits = limits
        self.pool = pool
        self.waiting: deque[SimRequest] = deque()
        self.running: list[SimRequest] = []
        self.num_preemptions = 0
        self._admission_blocked = False

    # ---- requests ------------------------------------------------------------------------------
    def add(self, request: SimRequest) -> None:
        if request.prompt_tokens + request.max_tokens > self.limits.max_model_len:
            raise ValueError(
                f"request {request.request_id} needs {request.prompt_tokens + request.max_tokens} tokens, "
                f"above max_model_len {self.limits.max_model_len}"
            )
        request.status = WAITING
        self.waiting.append(request)
        self._admission_blocked = False

    def abort(self, request: SimRequest, now_s: float) -> None:
        """Drop a request (client gone); its blocks return to the pool."""
        if request.status == RUNNING:
            self.running.remove(request)
        elif request.status == WAITING:
            self.waiting.remove(request)
        else:
            return
        self.pool.release(request.holding)
        request.status = ABORTED
        request.finish_reason = "abort"
        request.finish_s = now_s
        self._admission_blocked = False

    @property
    def has_work(self) -> bool:
        return bool(self.running or self.waiting)

    # ---- one step ------------------------------------------------------------------------------
    def schedule(self, now_s: float) -> Step:
        """Choose this step's batch and reserve its KV blocks."""
        pool = self.pool
        budget = self.limits.max_num_batched_tokens
        items: list[tuple[SimRequest, int]] = []
        preempted: list[SimRequest] = []
        running = self.running
        i = 0
        while i < len(running) and budget > 0:
            req = running[i]
            n = min(req.num_tokens - req.num_computed, budget)
            while not pool.grow(req.holding, req.num_computed + n):
                victim = running.pop()
                self._preempt(victim)
                preempted.append(victim)
                if victim is req:
                    break
            else:
                items.append((req, n))
                budget -= n
                i += 1
                continue
            break
        self._admission_blocked = False
        if not preempted:
            self._admit_waiting(now_s, budget, items)
        return self._describe(items, preempted)

    def _admit_waiting(self, now_s: float, budget: int, items: list[tuple[SimRequest, int]]) -> None:
        pool = self.pool
        bs = pool.block_size
        waiting = self.waiting
        # Blocked means only a finish (or abort) can let the head of the queue in: the running
        # batch is full or the pool refused it. A token budget used up exactly at a request
        # boundary is not blocking: the next step has a fresh budget for the waiting requests.
        blocked = False
        while waiting and budget > 0:
            if len(self.running) >= self.limits.max_num_seqs:
                blocked = True
                break
            req = waiting[0]
            hits: list[int] = []
            if pool.prefix_caching and req.block_hashes:
                usable = min(len(req.block_hashes), (req.num_tokens - 1) // bs)
                hits = req.block_hashes[: pool.cached_prefix(req.block_hashes, usable)]
            computed = len(hits) * bs
            n = min(req.num_tokens - computed, budget)
            if not pool.admit(req.holding, hits, computed + n):
                blocked = True
                break
            if pool.prefix_caching and req.block_hashes:
                pool.record_lookup(min(len(req.block_hashes), (req.num_tokens - 1) // bs), len(hits))
            waiting.popleft()
            req.status = RUNNING
            req.num_computed = computed
            req.published = len(hits)
            if req.scheduled_s is None:
                req.scheduled_s = now_s
                req.cached_tokens = computed
            self.running.append(req)
            items.append((req, n))
            budget -= n
        self._admission_blocked = blocked

    def _preempt(self, req: SimRequest) -> None:
        self.pool.release(req.holding)
        req.status = WAITING
        req.num_computed = 0
        req.published = 0
        req.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.appendleft(req)

    @staticmethod
    def _describe(items: list[tuple[SimRequest, int]], preempted: list[SimRequest]) -> Step:
        prefill = decode = context = 0
        for req, n in items:
            if n == 1 and req.num_output > 0 and req.num_computed == req.num_tokens - 1:
                decode += 1
                context += req.num_tokens
            else:
                prefill += n
        return Step(items, prefill, decode, context, preempted)

    def complete(self, step: Step, start_s: float, end_s: float) -> StepResult:
        """Apply a finished step at ``end_s``: advance progress, emit tokens, finish requests."""
        pool = self.pool
        bs = pool.block_size
        emitted: list[SimRequest] = []
        first: list[SimRequest] = []
        finished: list[SimRequest] = []
        other_gaps: list[float] = []
        common = 0
        prompt_tokens = 0
        for req, n in step.items:
            if req.status != RUNNING:
                continue  # aborted during the step
            if req.num_computed < req.num_tokens - 1 or req.num_output == 0:
                prompt_tokens += n
            req.num_computed += n
            if pool.prefix_caching and req.published < len(req.block_hashes):
                full = min(req.num_computed, req.prompt_tokens) // bs
                while req.published < min(full, len(req.block_hashes)):
                    pool.publish(req.holding, req.block_hashes[req.published])
                    req.published += 1
            if req.num_computed < req.num_tokens:
                continue  # a prefill chunk, no token yet
            req.num_output += 1
            emitted.append(req)
            if req.first_token_s is None:
                req.first_token_s = end_s
                first.append(req)
            elif req.last_token_s == start_s:
                common += 1
            else:
                other_gaps.append(end_s - req.last_token_s)
            req.last_token_s = end_s
            if req.num_output >= req.target_tokens:
                self._finish(req, end_s)
                finished.append(req)
        if finished:
            self.running = [r for r in self.running if r.status == RUNNING]
            self._admission_blocked = False
        return StepResult(emitted, first, finished, end_s - start_s, common, other_gaps, prompt_tokens)

    def _finish(self, req: SimRequest, end_s: float) -> None:
        req.status = FINISHED
        req.finish_s = end_s
        req.finish_reason = "length" if req.num_output >= req.max_tokens else "stop"
        self.pool.release(req.holding)

    # ---- fast-forward of pure decode -------------------------------------------------------------
    def decode_batch(self) -> tuple[int, int] | None:
        """(sequences, summed context) when the next step would be a pure decode of every running
        request with nothing else able to change; None otherwise."""
        running = self.running
        if not running or (self.waiting and not self._admission_blocked):
            return None
        if len(running) > self.limits.max_num_batched_tokens:
            return None
        context = 0
        for req in running:
            if req.num_output == 0 or req.num_computed != req.num_tokens - 1:
                return None
            context += req.num_tokens
        return len(running), context

    def fast_forward_limit(self, max_steps: int) -> int:
        """How many pure-decode steps can run with no request finishing before the last one and no
        preemption (call only when :meth:`decode_batch` is not None)."""
        k = min(max_steps, min(r.target_tokens - r.num_output for r in self.running))
        if k <= 0:
            return 0
        free = self.pool.free_blocks
        if self._blocks_needed(k) <= free:
            return k
        lo, hi = 0, k  # need(lo) ≤ free < need(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._blocks_needed(mid) <= free:
                lo = mid
            else:
                hi = mid
        return lo

    def _blocks_needed(self, steps: int) -> int:
        bs = self.pool.block_size
        need = 0
        for req in self.running:
            extra = -(-(req.num_tokens + steps - 1) // bs) - req.holding.count
            if extra > 0:
                need += extra
        return need

    def fast_forward(self, steps: int, end_s: float) -> list[SimRequest]:
        """Run ``steps`` decode steps at once, ending at ``end_s``; returns the finished requests."""
        bs = self.pool.block_size
        grants: list[int] = []
        for req in self.running:
            extra = -(-(req.num_tokens + steps - 1) // bs) - req.holding.count
            grants.append(extra if extra > 0 else 0)
        if not self.pool.grow_many(sum(grants)):
            raise RuntimeError("fast_forward beyond fast_forward_limit")
        finished: list[SimRequest] = []
        for req, extra in zip(self.running, grants, strict=True):
            req.holding.private += extra
            req.num_output += steps
            req.num_computed += steps
            req.last_token_s = end_s
            if req.num_output >= req.target_tokens:
                self._finish(req, end_s)
                finished.append(req)
        if finished:
            self.running = [r for r in self.running if r.status == RUNNING]
            self._admission_blocked = False
        return finished
