"""Live state of each pool: its backends, their health, ejections, load, and the wait for a first backend.

A backend is *available* when it is healthy (active probes) and not ejected (passive: consecutive
failures, as Envoy's outlier detection counts them; see ``RetryConfig``). The available list is recomputed only when something changes, so picking a backend costs
one call into the pool's routing policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kubellm.gateway.routing import BackendStats, Router, RouteRequest, make_router
from kubellm.spec.gateway import PoolConfig, RetryConfig

log = logging.getLogger("kubellm.gateway")


class Backend:
    """One engine endpoint of a pool."""

    __slots__ = (
        "ejected_until",
        "ejections",
        "failures",
        "healthy",
        "probe_failures",
        "probe_successes",
        "url",
    )

    def __init__(self, url: str, healthy: bool) -> None:
        self.url = url
        self.healthy = healthy
        self.failures = 0
        self.ejections = 0  # ejections in a row (each one soon after the last): the time multiplier
        self.ejected_until = 0.0
        self.probe_failures = 0
        self.probe_successes = 0


class Pool:
    """The engines that serve one model, and the policy that spreads requests over them."""

    def __init__(
        self,
        config: PoolConfig,
        retries: RetryConfig,
        *,
        start_healthy: bool,
        clock: Callable[[], float],
        seed: int = 0,
    ) -> None:
        self.config = config
        self.name = config.name
        self.upstream_model = config.upstream_model or config.name
        self.router: Router = make_router(config.routing, config.load_bound, seed)
        self.backends: dict[str, Backend] = {}
        self.stats: dict[str, BackendStats] = {}
        self.available: list[str] = []
        self.pending = 0
        self.fallback: Pool | None = None
        self.long_context: Pool | None = None
        self._retries = retries
        self._start_healthy = start_healthy
        self._clock = clock
        self._next_expiry = float("inf")
        self._ready: asyncio.Event | None = None
        self._labels: dict[str, str] = {}  # url -> "<pool>/<n>", kept for the life of the process

    # --- membership and health -------------------------------------------------------------------

    def set_backends(self, urls: list[str]) -> list[str]:
        """Replace the member list (from discovery); returns the URLs that are new."""
        new = [url for url in urls if url not in self.backends]
        for url in new:
            self.backends[url] = Backend(url, healthy=self._start_healthy)
            self.stats[url] = BackendStats()
            self._labels.setdefault(url, f"{self.name}/{len(self._labels)}")
        for url in [u for u in self.backends if u not in urls]:
            del self.backends[url]
            if self.stats[url].outstanding == 0:
                del self.stats[url]
        self.refresh()
        return new

    def refresh(self) -> None:
        """Recompute the available list (after a health change, an ejection, or when one expires)."""
        now = self._clock()
        available = []
        next_expiry = float("inf")
        for backend in self.backends.values():
            if not backend.healthy:
                continue
            if backend.ejected_until > now:
                next_expiry = min(next_expiry, backend.ejected_until)
                continue
            available.append(backend.url)
        self.available = available
        self._next_expiry = next_expiry
        if available and self._ready is not None:
            self._ready.set()

    def set_health(self, url: str, ok: bool, unhealthy_after: int, healthy_after: int) -> bool:
        """Record one active probe; True when the backend's health flipped."""
        backend = self.backends.get(url)
        if backend is None:
            return False
        if ok:
            backend.probe_failures = 0
            backend.probe_successes += 1
            flip = not backend.healthy and backend.probe_successes >= healthy_after
            if flip:
                backend.healthy, backend.failures, backend.ejected_until = True, 0, 0.0
        else:
            backend.probe_successes = 0
            backend.probe_failures += 1
            flip = backend.healthy and backend.probe_failures >= unhealthy_after
            if flip:
                backend.healthy = False
        if flip:
            self.refresh()
        return flip

    def record_success(self, url: str) -> None:
        """A request to ``url`` worked: reset its failure streak."""
        backend = self.backends.get(url)
        if backend is not None and backend.failures:
            backend.failures = 0

    def record_failure(self, url: str) -> None:
        """A request to ``url`` failed; eject it after ``eject_after_failures`` failures in a row."""
        backend = self.backends.get(url)
        if backend is None:
            return
        backend.failures += 1
        retries = self._retries
        if backend.failures < retries.eject_after_failures:
            return
        backend.failures = 0
        now = self._clock()
        if not self._may_eject(url, now):
            return
        if backend.ejections and now - backend.ejected_until > retries.max_eject_s:
            backend.ejections = 0  # quiet for long enough: start again from eject_s
        backend.ejections += 1
        ejected_s = min(retries.eject_s * backend.ejections, retries.max_eject_s)
        backend.ejected_until = now + ejected_s
        log.warning(
            "backend ejected",
            extra={"pool": self.name, "backend": url, "ejected_s": ejected_s, "ejections": backend.ejections},
        )
        self.refresh()

    def _may_eject(self, url: str, now: float) -> bool:
        """Within max_ejected_percent (at least one of two or more), and never the last available one."""
        if not any(other != url for other in self.available):
            return False
        total = len(self.backends)
        limit = int(total * self._retries.max_ejected_percent / 100)
        if self._retries.max_ejected_percent > 0 and total >= 2:
            limit = max(1, limit)
        ejected = sum(1 for b in self.backends.values() if b.ejected_until > now)
        return ejected < limit

    def label_of(self, url: str) -> str:
        """The backend's metrics label when URLs are not shown: '<pool>/<n>' in order of discovery."""
        return self._labels.get(url, f"{self.name}/?")

    @property
    def holds_when_empty(self) -> bool:
        """Whether requests wait for a backend (scale from zero) rather than get a 503 at once."""
        explicit = self.config.scale_from_zero
        return explicit if explicit is not None else self.config.backends.kind != "static"

    def next_readmission_s(self) -> float | None:
        """Seconds until the first ejected (but healthy) backend comes back, if any is ejected."""
        now = self._clock()
        times = [b.ejected_until - now for b in self.backends.values() if b.healthy and b.ejected_until > now]
        return min(times) if times else None

    # --- choosing --------------------------------------------------------------------------------

    def pick(self, request: RouteRequest, exclude: set[str] | None = None) -> str | None:
        """A backend for ``request`` by the pool's policy, or None when none is available."""
        if self._next_expiry <= self._clock():
            self.refresh()
        endpoints = self.available
        if exclude:
            endpoints = [url for url in endpoints if url not in exclude]
        if not endpoints:
            return None
        return self.router.select(request, endpoints, self.stats)

    def saturated(self) -> bool:
        """Every available backend is at ``max_outstanding_per_backend`` (never, when that is unset)."""
        limit = self.config.max_outstanding_per_backend
        if limit is None:
            return False
        return all(self.stats[url].outstanding >= limit for url in self.available)

    async def wait_ready(self, timeout_s: float) -> bool:
        """Hold until a backend is available (scale from zero), counted in ``pending``; False on timeout."""
        if self.available:
            return True
        if self._ready is None or self._ready.is_set():
            self._ready = asyncio.Event()
        self.pending += 1
        try:
            async with asyncio.timeout(timeout_s):
                while not self.available:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._ready.wait(), 0.5)
                    self.refresh()  # ejections expire even when no health check runs
                    if not self.available:
                        self._ready.clear()
            return True
        except TimeoutError:
            return False
        finally:
            self.pending -= 1
