"""The continuous-batching scheduler: budget, chunked prefill, batch cap, waiting, preemption, caching."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.sim.blocks import KvBlockPool
from kubellm.sim.scheduler import (
    FINISHED,
    RUNNING,
    WAITING,
    ContinuousBatchScheduler,
    SchedulerLimits,
    SimRequest,
    Step,
)


def make(
    max_num_seqs: int = 8, budget: int = 256, max_len: int = 4096, blocks: int = 256, caching: bool = False
) -> ContinuousBatchScheduler:
    return ContinuousBatchScheduler(
        SchedulerLimits(max_num_seqs, budget, max_len), KvBlockPool(blocks, 16, caching)
    )


def req(i: int, prompt: int = 32, out: int = 4, hashes: list[int] | None = None) -> SimRequest:
    return SimRequest(f"r{i}", prompt, out, arrival_s=0.0, block_hashes=hashes or [])


def run_step(s: ContinuousBatchScheduler, t: float) -> tuple[Step, float]:
    step = s.schedule(t)
    s.complete(step, t, t + 1.0)
    return step, t + 1.0


def test_long_prompt_is_prefilled_in_budget_sized_chunks_before_its_first_token() -> None:
    s = make(budget=256)
    r = req(0, prompt=600, out=2)
    s.add(r)
    chunks = []
    t = 0.0
    while r.first_token_s is None:
        step, t = run_step(s, t)
        chunks.append(step.prefill_tokens)
    assert chunks == [256, 256, 88]
    assert r.first_token_s == 3.0


def test_decode_and_prefill_share_the_token_budget() -> None:
    s = make(budget=100)
    a = req(0, prompt=10, out=5)
    s.add(a)
    run_step(s, 0.0)  # a prefilled, first token out
    b = req(1, prompt=500, out=2)
    s.add(b)
    step = s.schedule(1.0)
    assert step.decode_seqs == 1 and step.prefill_tokens == 99


def test_running_batch_never_exceeds_max_num_seqs() -> None:
    s = make(max_num_seqs=3, budget=1000)
    for i in range(5):
        s.add(req(i, prompt=16, out=10))
    step = s.schedule(0.0)
    assert len(step.items) == 3
    assert len(s.running) == 3 and len(s.waiting) == 2


def test_requests_wait_when_the_pool_is_full() -> None:
    s = make(blocks=10, budget=1000, max_len=160)
    for i in range(3):
        s.add(req(i, prompt=64, out=8))  # 5 blocks each with the first output
    s.schedule(0.0)
    assert [r.status for r in (*s.running, *s.waiting)] == [RUNNING, RUNNING, WAITING]
    assert s.pool.free_blocks == 2


def test_decode_out_of_blocks_preempts_the_newest_request_for_recompute() -> None:
    s = make(blocks=8, budget=1000, max_len=128)
    old, new = req(0, prompt=48, out=40), req(1, prompt=48, out=40)
    s.add(old)
    s.add(new)
    t = 0.0
    while not s.num_preemptions:
        _, t = run_step(s, t)
    assert new.status == WAITING and new.num_computed == 0 and new.num_preemptions == 1
    assert old.status == RUNNING
    while old.status != FINISHED:
        _, t = run_step(s, t)
    while new.status != FINISHED:  # recomputed, then finishes all its tokens
        _, t = run_step(s, t)
    assert new.num_output == 40


def test_prefix_cache_hit_skips_cached_blocks_but_recomputes_the_last_token() -> None:
    s = make(caching=True, budget=1000)
    hashes = [11, 12, 13, 14]  # 64-token prompt, four full blocks
    first = req(0, prompt=64, out=1, hashes=hashes)
    s.add(first)
    run_step(s, 0.0)
    assert first.status == FINISHED
    second = req(1, prompt=64, out=1, hashes=hashes)
    s.add(second)
    step = s.schedule(1.0)
    assert second.cached_tokens == 48  # three blocks: the fourth holds the token that must be computed
    assert step.prefill_tokens == 16
    assert s.pool.hits == 3


def test_abort_returns_blocks_to_the_pool() -> None:
    s = make()
    r = req(0, prompt=100, out=10)
    s.add(r)
    s.schedule(0.0)
    assert s.pool.used_blocks > 0
    s.abort(r, 0.5)
    assert s.pool.used_blocks == 0 and not s.has_work and r.finish_reason == "abort"


def test_fast_forward_stops_before_the_pool_runs_out() -> None:
    s = make(blocks=12, budget=1000, max_len=1024)
    a = req(0, prompt=16, out=500)
    s.add(a)
    run_step(s, 0.0)
    assert s.decode_batch() == (1, 17)
    limit = s.fast_forward_limit(10_000)
    assert limit == 12 * 16 - 16  # every block filled, none more
    s.fast_forward(limit, 100.0)
    assert a.num_output == 1 + limit and s.pool.free_blocks == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 200), st.integers(1, 60)), min_size=1, max_size=25),
    st.integers(1, 6),
    st.integers(16, 300),
    st.booleans(),
)
def test_invariants_hold_for_any_workload(
    workload: list[tuple[int, int, int]], max_seqs: int, budget: int, caching: bool
) -> None:
    s = make(max_num_seqs=max_seqs, budget=budget, max_len=272, blocks=17, caching=caching)
    arrivals = sorted(workload)
    requests: list[SimRequest] = []
    t = 0
    while arrivals or s.has_work:
        while arrivals and arrivals[0][0] <= t:
            _, prompt, out = arrivals.pop(0)
            shared = [1000 + i for i in range(prompt // 16)]  # every prompt shares its leading blocks
            r = req(len(requests), prompt=prompt, out=out, hashes=shared if caching else None)
            s.add(r)
            requests.append(r)
        step = s.schedule(float(t))
        assert sum(n for _, n in step.items) <= budget
        assert len(s.running) <= max_seqs
        if not caching:
            assert s.pool.used_blocks == sum(r.holding.count for r in s.running)
        assert 0 <= s.pool.free_blocks <= s.pool.num_blocks
        s.complete(step, float(t), t + 1.0)
        t += 1
        assert t < 20_000, "the workload never drained"
    assert all(r.status == FINISHED and r.num_output == r.max_tokens for r in requests)
    assert s.pool.used_blocks == 0
