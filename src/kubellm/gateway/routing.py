"""Routing policies: pure choices of one backend for one request.

Each policy is an object with ``select(request, endpoints, stats) -> str``: ``endpoints`` are the URLs
of the pool's available backends (healthy, not ejected), ``stats`` maps each URL to its live load.
Policies hold only their own bookkeeping (a round-robin counter, a seeded random generator, a cached
hash ring), so they are tested without any I/O. Engine load (waiting, running, KV-cache use) comes
from scraped ``/metrics``; outstanding requests are the gateway's own count.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kubellm.errors import UsageError


class BackendStats:
    """Live load of one backend: the gateway's in-flight count plus the engine's scraped gauges."""

    __slots__ = ("kv_usage", "outstanding", "running", "waiting")

    def __init__(
        self, outstanding: int = 0, waiting: float = 0.0, running: float = 0.0, kv_usage: float = 0.0
    ):
        self.outstanding = outstanding
        self.waiting = waiting
        self.running = running
        self.kv_usage = kv_usage

    def engine_load(self) -> float:
        """Score for power-of-two: fresh local in-flight count plus the engine's queue and KV pressure.

        A waiting request costs twice a running one (it has not even started); a full KV cache (1.0)
        counts as eight queued requests, because the engine is about to preempt.
        """
        return self.outstanding + 2.0 * self.waiting + 8.0 * self.kv_usage


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What a policy may look at in a request: the prompt's start and the session key."""

    prefix: str = ""
    session: str | None = None


class Router(Protocol):
    """A routing policy."""

    def select(
        self, request: RouteRequest, endpoints: Sequence[str], stats: Mapping[str, BackendStats]
    ) -> str:
        """Pick one of ``endpoints`` (never empty) for ``request``."""
        ...


class RoundRobinRouter:
    """Each backend in turn, regardless of load."""

    def __init__(self) -> None:
        self._next = 0

    def select(
        self, request: RouteRequest, endpoints: Sequence[str], stats: Mapping[str, BackendStats]
    ) -> str:
        index = self._next % len(endpoints)
        self._next = index + 1
        return endpoints[index]


class LeastOutstandingRouter:
    """The backend with the fewest requests in flight from this gateway; ties go round-robin."""

    def __init__(self) -> None:
        self._start = 0

    def select(
        self, request: RouteRequest, endpoints: Sequence[str], stats: Mapping[str, BackendStats]
    ) -> str:
        n = len(endpoints)
        self._start = start = (self._start + 1) % n
        best = endpoints[start]
        best_load = stats[best].outstanding
        for i in range(1, n):
            url = endpoints[(start + i) % n]
            load = stats[url].outstanding
            if load < best_load:
                best, best_load = url, load
        return best


class PowerOfTwoRouter:
    """Two backends drawn at random; the one with less engine load (queue, running, KV use) wins."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random(0)

    def select(
        self, request: RouteRequest, endpoints: Sequence[str], stats: Mapping[str, BackendStats]
    ) -> str:
        n = len(endpoints)
        if n == 1:
            return endpoints[0]
        i = self._rng.randrange(n)
        j = self._rng.randrange(n - 1)
        if j >= i:
            j += 1
        a, b = endpoints[i], endpoints[j]
        return a if stats[a].engine_load() <= stats[b].engine_load() else b


def _hash64(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


class _HashRing:
    """A consistent-hash ring with ``replicas`` virtual nodes per endpoint."""

    def __init__(self, endpoints: Sequence[str], replicas: int) -> None:
        points = sorted((_hash64(f"{url}#{r}"), url) for url in endpoints for r in range(replicas))
        self.keys = [p[0] for p in points]
        self.urls = [p[1] for p in points]

    def walk(self, key: int) -> list[str]:
        """Distinct endpoints in ring order starting at ``key``."""
        start = bisect.bisect(self.keys, key)
        seen: list[str] = []
        total = len(self.urls)
        for i in range(total):
            url = self.urls[(start + i) % total]
            if url not in seen:
                seen.append(url)
        return seen


class ConsistentHashRouter:
    """Consistent hashing with bounded load (CHWBL), keyed on the prompt's start or the session.

    The key hashes to a point on a ring of virtual nodes; the first backend clockwise whose in-flight
    count stays within ``load_bound`` times the mean (plus one) takes the request, so one hot prefix
    cannot bury a backend. Requests without a key go to the least loaded backend.
    """

    def __init__(self, key: str = "prefix", load_bound: float = 1.25, replicas: int = 64) -> None:
        if key not in ("prefix", "session"):
            raise UsageError(f"unknown hash key {key!r}", "use 'prefix' or 'session'")
        self._key = key
        self._load_bound = load_bound
        self._replicas = replicas
        self._ring: _HashRing | None = None
        self._ring_for: tuple[str, ...] = ()
        self._fallback = LeastOutstandingRouter()

    def _ring_of(self, endpoints: Sequence[str]) -> _HashRing:
        members = tuple(endpoints)
        if self._ring is None or members != self._ring_for:
            self._ring = _HashRing(members, self._replicas)
            self._ring_for = members
        return self._ring

    def select(
        self, request: RouteRequest, endpoints: Sequence[str], stats: Mapping[str, BackendStats]
    ) -> str:
        key = request.prefix if self._key == "prefix" else request.session
        if not key or len(endpoints) == 1:
            return self._fallback.select(request, endpoints, stats)
        total = sum(stats[url].outstanding for url in endpoints)
        bound = math.ceil(self._load_bound * (total + 1) / len(endpoints))
        candidates = self._ring_of(endpoints).walk(_hash64(key))
        for url in candidates:
            if stats[url].outstanding + 1 <= bound:
                return url
        return min(candidates, key=lambda url: stats[url].outstanding)


def make_router(policy: str, load_bound: float = 1.25, seed: int = 0) -> Router:
    """The router for a policy name of the gateway config."""
    if policy == "round-robin":
        return RoundRobinRouter()
    if policy == "least-outstanding":
        return LeastOutstandingRouter()
    if policy == "power-of-two":
        return PowerOfTwoRouter(random.Random(seed))
    if policy == "prefix-affinity":
        return ConsistentHashRouter("prefix", load_bound)
    if policy == "session-affinity":
        return ConsistentHashRouter("session", load_bound)
    raise UsageError(
        f"unknown routing policy {policy!r}",
        "use one of round-robin, least-outstanding, power-of-two, prefix-affinity, session-affinity",
    )
