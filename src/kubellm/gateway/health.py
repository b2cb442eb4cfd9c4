"""Background upkeep of the pools: discovery refresh, active health probes, engine-load scrapes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from kubellm.gateway.discovery import Discovery, DiscoveryError, WatchingDiscovery
from kubellm.gateway.engine_metrics import parse_engine_load
from kubellm.gateway.pools import Pool
from kubellm.spec.gateway import HealthCheckConfig

log = logging.getLogger("kubellm.gateway")


class PoolKeeper:
    """Keeps one pool's member list, health and engine load current."""

    def __init__(
        self, pool: Pool, discovery: Discovery, health: HealthCheckConfig, session: aiohttp.ClientSession
    ) -> None:
        self.pool = pool
        self.discovery = discovery
        self.health = health
        self.session = session
        self.health_path = pool.config.health_path or health.path
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Resolve the members and probe them once, then keep doing it in the background."""
        await self._discover()
        if self.health.enabled:
            await self._probe_all()
            self._tasks.append(asyncio.create_task(self._loop(self._probe_all, self.health.interval_s)))
        if isinstance(self.discovery, WatchingDiscovery):
            self._tasks.append(asyncio.create_task(self.discovery.watch(self._update)))
        elif self.discovery.refresh_s is not None:
            self._tasks.append(asyncio.create_task(self._loop(self._discover, self.discovery.refresh_s)))
        if self.pool.config.routing == "power-of-two":
            self._tasks.append(
                asyncio.create_task(self._loop(self._scrape_all, self.pool.config.metrics_interval_s))
            )

    async def stop(self) -> None:
        """Cancel the background tasks."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if isinstance(self.discovery, WatchingDiscovery):
            await self.discovery.close()

    async def _loop(self, step: Callable[[], Awaitable[None]], interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await step()
            self.pool.refresh()  # let ejections expire even when no request arrives

    async def _discover(self) -> None:
        try:
            urls = await self.discovery.resolve()
        except DiscoveryError as exc:
            log.warning(
                "discovery failed; keeping the previous backends",
                extra={"pool": self.pool.name, "error": str(exc)},
            )
            return
        await self._update(urls)

    async def _update(self, urls: list[str]) -> None:
        """Take a new member list: new backends are probed before they get traffic."""
        gone = [url for url in self.pool.backends if url not in urls]
        if gone:
            log.info("backends removed", extra={"pool": self.pool.name, "backends": gone})
        new = self.pool.set_backends(urls)
        if new:
            labels = {self.pool.label_of(url): url for url in new}  # how metrics name them
            log.info("backends added", extra={"pool": self.pool.name, "backends": labels})
            if self.health.enabled:
                await asyncio.gather(*(self._probe(url) for url in new))

    async def _probe_all(self) -> None:
        await asyncio.gather(*(self._probe(url) for url in list(self.pool.backends)))

    async def _probe(self, url: str) -> None:
        timeout = aiohttp.ClientTimeout(total=self.health.timeout_s)
        try:
            async with self.session.get(url + self.health_path, timeout=timeout) as resp:
                await resp.read()
                ok = resp.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            ok = False
        if self.pool.set_health(url, ok, self.health.unhealthy_after, self.health.healthy_after):
            log.info(
                "backend %s", "healthy" if ok else "unhealthy", extra={"pool": self.pool.name, "backend": url}
            )

    async def _scrape_all(self) -> None:
        await asyncio.gather(*(self._scrape(url) for url in self.pool.available))

    async def _scrape(self, url: str) -> None:
        timeout = aiohttp.ClientTimeout(total=self.health.timeout_s)
        try:
            async with self.session.get(url + "/metrics", timeout=timeout) as resp:
                if resp.status != 200:
                    return
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError, UnicodeDecodeError):
            return
        load = parse_engine_load(text)
        stats = self.pool.stats.get(url)
        if stats is not None:
            stats.waiting, stats.running, stats.kv_usage = load.waiting, load.running, load.kv_usage
