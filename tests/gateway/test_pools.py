"""Pool state: membership, passive ejection and its expiry, health flips, the wait for a backend."""

from __future__ import annotations

import asyncio

from kubellm.gateway.pools import Pool
from kubellm.gateway.routing import RouteRequest
from kubellm.spec.gateway import PoolConfig, RetryConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_pool(clock: FakeClock, start_healthy: bool = True) -> Pool:
    return Pool(
        PoolConfig(name="m", routing="round-robin"),
        RetryConfig(eject_after_failures=2, eject_s=5),
        start_healthy=start_healthy,
        clock=clock,
    )


def test_membership_changes_keep_existing_state() -> None:
    pool = make_pool(FakeClock())
    assert pool.set_backends(["http://a:1", "http://b:1"]) == ["http://a:1", "http://b:1"]
    pool.stats["http://a:1"].outstanding = 3
    assert pool.set_backends(["http://a:1", "http://c:1"]) == ["http://c:1"]
    assert pool.available == ["http://a:1", "http://c:1"] and pool.stats["http://a:1"].outstanding == 3


def test_ejection_after_consecutive_failures_and_expiry() -> None:
    clock = FakeClock()
    pool = make_pool(clock)
    pool.set_backends(["http://a:1", "http://b:1"])
    pool.record_failure("http://a:1")
    pool.record_success("http://a:1")  # a success resets the streak
    pool.record_failure("http://a:1")
    assert "http://a:1" in pool.available
    pool.record_failure("http://a:1")
    assert pool.available == ["http://b:1"]
    assert {pool.pick(RouteRequest()) for _ in range(4)} == {"http://b:1"}
    clock.now += 5
    assert {pool.pick(RouteRequest()) for _ in range(4)} == {"http://a:1", "http://b:1"}


def test_health_flips_need_the_configured_streaks() -> None:
    pool = make_pool(FakeClock(), start_healthy=False)
    pool.set_backends(["http://a:1"])
    assert pool.available == []
    assert pool.set_health("http://a:1", True, unhealthy_after=2, healthy_after=1)
    assert not pool.set_health("http://a:1", False, unhealthy_after=2, healthy_after=1)
    assert pool.available == ["http://a:1"]
    assert pool.set_health("http://a:1", False, unhealthy_after=2, healthy_after=1)
    assert pool.available == []


def test_waiters_are_released_when_an_ejection_expires_without_health_checks() -> None:
    clock = FakeClock()
    pool = make_pool(clock)
    pool.set_backends(["http://a:1"])
    pool.record_failure("http://a:1")
    pool.record_failure("http://a:1")

    async def scenario() -> bool:
        waiter = asyncio.create_task(pool.wait_ready(5.0))
        await asyncio.sleep(0.05)
        assert pool.pending == 1
        clock.now += 6
        return await waiter

    assert asyncio.run(scenario()) and pool.pending == 0


def test_wait_times_out_without_backends() -> None:
    pool = make_pool(FakeClock())
    assert not asyncio.run(pool.wait_ready(0.05)) and pool.pending == 0
