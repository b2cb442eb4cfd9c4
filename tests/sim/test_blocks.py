"""The KV block pool: counting, prefix cache, eviction, usage as vLLM defines it."""

from __future__ import annotations

from kubellm.sim.blocks import BlockHolding, KvBlockPool


def test_grow_takes_whole_blocks_and_release_returns_them() -> None:
    pool = KvBlockPool(10, 16)
    h = BlockHolding()
    assert pool.grow(h, 17) and h.count == 2
    assert pool.usage == 0.2
    pool.release(h)
    assert pool.free_blocks == 10 and h.count == 0


def test_grow_fails_without_taking_anything() -> None:
    pool = KvBlockPool(2, 16)
    h = BlockHolding()
    assert not pool.grow(h, 48)
    assert pool.free_blocks == 2 and h.count == 0


def test_released_cached_blocks_count_as_free_and_are_evicted_oldest_first() -> None:
    pool = KvBlockPool(3, 16, prefix_caching=True)
    a = BlockHolding()
    pool.grow(a, 32)
    pool.publish(a, 101)
    pool.publish(a, 102)
    pool.release(a)
    assert pool.free_blocks == 3 and pool.usage == 0.0
    assert pool.cached_prefix([101, 102], 2) == 2
    b = BlockHolding()
    assert pool.grow(b, 32)  # one empty block plus one evicted cached block
    assert pool.cached_prefix([101, 102], 2) == 1  # the tail (102) went first: vLLM frees in reverse


def test_admit_counts_revived_cached_blocks_against_free_space() -> None:
    pool = KvBlockPool(2, 16, prefix_caching=True)
    a = BlockHolding()
    pool.grow(a, 32)
    pool.publish(a, 1)
    pool.publish(a, 2)
    pool.release(a)
    b = BlockHolding()
    assert not pool.admit(b, [1, 2], 48)  # two revived + one new > two blocks
    assert pool.admit(b, [1], 32)
    assert b.count == 2 and pool.free_blocks == 0
