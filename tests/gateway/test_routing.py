"""Routing policies as pure functions: distribution, stickiness and the load bound."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from kubellm.errors import UsageError
from kubellm.gateway.routing import (
    BackendStats,
    ConsistentHashRouter,
    LeastOutstandingRouter,
    PowerOfTwoRouter,
    RoundRobinRouter,
    RouteRequest,
    make_router,
)

URLS = ["http://a:1", "http://b:1", "http://c:1"]


def fresh() -> dict[str, BackendStats]:
    return {url: BackendStats() for url in URLS}


def test_round_robin_cycles_evenly() -> None:
    router, stats = RoundRobinRouter(), fresh()
    picks = Counter(router.select(RouteRequest(), URLS, stats) for _ in range(300))
    assert set(picks.values()) == {100}


def test_least_outstanding_picks_the_idlest() -> None:
    stats = fresh()
    stats["http://a:1"].outstanding, stats["http://b:1"].outstanding, stats["http://c:1"].outstanding = (
        4,
        1,
        3,
    )
    assert LeastOutstandingRouter().select(RouteRequest(), URLS, stats) == "http://b:1"


def test_least_outstanding_spreads_ties() -> None:
    router, stats = LeastOutstandingRouter(), fresh()
    assert len({router.select(RouteRequest(), URLS, stats) for _ in range(3)}) == 3


def test_power_of_two_prefers_less_engine_load() -> None:
    stats = fresh()
    stats["http://a:1"].waiting = 10  # deep queue
    stats["http://b:1"].kv_usage = 0.95  # KV almost full
    router = PowerOfTwoRouter(random.Random(1))
    picks = Counter(router.select(RouteRequest(), URLS, stats) for _ in range(600))
    assert picks["http://a:1"] == 0
    assert picks["http://c:1"] > picks["http://b:1"] > 0


def test_power_of_two_is_seeded() -> None:
    stats = fresh()
    a = [PowerOfTwoRouter(random.Random(7)).select(RouteRequest(), URLS, stats) for _ in range(5)]
    b = [PowerOfTwoRouter(random.Random(7)).select(RouteRequest(), URLS, stats) for _ in range(5)]
    assert a == b


def test_prefix_affinity_sticks_and_spreads_prefixes() -> None:
    router, stats = ConsistentHashRouter("prefix"), fresh()
    same = {
        router.select(RouteRequest(prefix="You are a helpful assistant."), URLS, stats) for _ in range(50)
    }
    assert len(same) == 1
    spread = Counter(
        router.select(RouteRequest(prefix=f"system prompt {i}"), URLS, stats) for i in range(300)
    )
    assert len(spread) == 3 and min(spread.values()) > 50


def test_prefix_affinity_respects_the_load_bound() -> None:
    router, stats = ConsistentHashRouter("prefix", load_bound=1.25), fresh()
    request = RouteRequest(prefix="hot prefix")
    home = router.select(request, URLS, stats)
    for _ in range(30):  # requests pile up without finishing
        url = router.select(request, URLS, stats)
        stats[url].outstanding += 1
        total = sum(s.outstanding for s in stats.values())
        assert stats[url].outstanding <= -(-1.25 * total // 3) + 1
    assert stats[home].outstanding == max(s.outstanding for s in stats.values())


def test_consistent_hashing_moves_few_keys_when_a_backend_leaves() -> None:
    router, stats = ConsistentHashRouter("prefix"), fresh()
    keys = [f"prefix-{i}" for i in range(300)]
    before = {k: router.select(RouteRequest(prefix=k), URLS, stats) for k in keys}
    after = {k: router.select(RouteRequest(prefix=k), URLS[:2], stats) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(before[k] == "http://c:1" for k in moved)


def test_session_affinity_uses_the_session_and_falls_back_without_one() -> None:
    router, stats = ConsistentHashRouter("session"), fresh()
    assert len({router.select(RouteRequest(session="user-7"), URLS, stats) for _ in range(20)}) == 1
    assert len({router.select(RouteRequest(), URLS, stats) for _ in range(3)}) == 3


def test_unknown_policy_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        make_router("random")
