"""Pool state: membership, passive ejection and its expiry, health flips, the wait for a backend."""

from __future__ import annotations

import asyncio
import logging

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


def test_ejection_after_consecutive_failures_and_expiry(records: list[logging.LogRecord]) -> None:
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
    ejected = [r for r in records if r.getMessage() == "backend ejected"]
    assert len(ejected) == 1 and ejected[0].levelno == logging.WARNING
    assert (ejected[0].pool, ejected[0].backend, ejected[0].ejected_s) == ("m", "http://a:1", 5)  # type: ignore[attr-defined]
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


def test_waiters_are_released_when_a_backend_comes_back() -> None:
    clock = FakeClock()
    pool = make_pool(clock, start_healthy=False)
    pool.set_backends(["http://a:1"])

    async def scenario() -> bool:
        waiter = asyncio.create_task(pool.wait_ready(5.0))
        await asyncio.sleep(0.05)
        assert pool.pending == 1
        pool.set_health("http://a:1", True, unhealthy_after=1, healthy_after=1)
        return await waiter

    assert asyncio.run(scenario()) and pool.pending == 0


def eject(pool: Pool, url: str) -> None:
    for _ in range(pool._retries.eject_after_failures):
        pool.record_failure(url)


def test_ejection_time_grows_with_repeated_ejections_and_is_capped() -> None:
    clock = FakeClock()
    pool = Pool(
        PoolConfig(name="m", routing="round-robin"),
        RetryConfig(eject_after_failures=1, eject_s=5, max_eject_s=12),
        start_healthy=True,
        clock=clock,
    )
    pool.set_backends(["http://a:1", "http://b:1"])
    expected = [5.0, 10.0, 12.0, 12.0]  # base x times ejected, up to max_eject_s (Envoy's rule)
    for duration in expected:
        eject(pool, "http://a:1")
        assert pool.available == ["http://b:1"]
        clock.now += duration - 0.01
        assert pool.pick(RouteRequest(), {"http://b:1"}) is None
        clock.now += 0.01
        assert pool.pick(RouteRequest(), {"http://b:1"}) == "http://a:1"  # re-admitted
    clock.now += 12.0 + 1  # a quiet spell as long as max_eject_s resets the multiplier
    eject(pool, "http://a:1")
    clock.now += 4.99
    assert pool.pick(RouteRequest(), {"http://b:1"}) is None
    clock.now += 0.01
    assert pool.pick(RouteRequest(), {"http://b:1"}) == "http://a:1"


def test_ejection_never_takes_more_than_max_ejected_percent() -> None:
    clock = FakeClock()
    pool = Pool(
        PoolConfig(name="m", routing="round-robin"),
        RetryConfig(eject_after_failures=1, eject_s=5, max_ejected_percent=50),
        start_healthy=True,
        clock=clock,
    )
    urls = [f"http://e{i}:1" for i in range(4)]
    pool.set_backends(urls)
    for url in urls[:3]:
        eject(pool, url)
    assert len(pool.available) == 2 and urls[2] in pool.available  # the third bad one stays in
    clock.now += 5
    eject(pool, urls[2])  # once the first two are back, it may go
    assert urls[2] not in pool.available


def test_the_last_available_backend_is_never_ejected() -> None:
    clock = FakeClock()
    pool = make_pool(clock)
    pool.set_backends(["http://a:1", "http://b:1"])
    pool.set_health("http://b:1", False, unhealthy_after=1, healthy_after=1)
    eject(pool, "http://a:1")
    assert pool.available == ["http://a:1"]  # ejecting it would leave nothing to answer


def test_wait_times_out_without_backends() -> None:
    pool = make_pool(FakeClock())
    assert not asyncio.run(pool.wait_ready(0.05)) and pool.pending == 0
