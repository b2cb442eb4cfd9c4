"""The gateway process: its parts, lifecycle (start, drain on SIGTERM, stop), and the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from collections.abc import Callable, Iterable
from typing import TextIO

import aiohttp
from aiohttp import web

from kubellm.errors import UsageError
from kubellm.gateway.admission import Admission, ApiKeyStore
from kubellm.gateway.config import build_pools, is_loopback, load_keys, make_discovery
from kubellm.gateway.health import PoolKeeper
from kubellm.gateway.listener import ConnectionGate, connection_limit, open_listener, raise_open_file_limit
from kubellm.gateway.logs import AuditLog, loop_exception_handler
from kubellm.gateway.metrics import GatewayMetrics, Labels
from kubellm.gateway.proxy import Proxy
from kubellm.gateway.routes import HttpSurface
from kubellm.gateway.upstream import UpstreamClient
from kubellm.gateway.upstream_aiohttp import AiohttpUpstreamClient
from kubellm.gateway.upstream_httptools import HttptoolsUpstreamClient
from kubellm.spec.gateway import GatewayConfig

log = logging.getLogger("kubellm.gateway")
_CUT_GRACE_S = 1.0  # after the drain deadline: time for cut requests to write their last words


class Gateway:
    """One gateway: build it from a config, ``start()`` it, ``drain()`` it."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        keys: ApiKeyStore | None = None,
        clock: Callable[[], float] | None = None,
        audit_stream: TextIO | None = None,
    ) -> None:
        self.config = config
        self._clock = clock or time.monotonic
        self.keys = keys if keys is not None else load_keys(config)
        self.metrics = GatewayMetrics(expose_key_ids=config.metrics.expose_key_ids)
        self.pools = build_pools(config, self._clock)
        self.admission = Admission(config.admission, self._clock)
        self.audit = AuditLog(audit_stream) if config.audit_log else None
        self.proxy = Proxy(config, self.pools, self.keys, self.admission, self.metrics, self.audit)
        self.surface = HttpSurface(
            config, self.keys, self.pools, self.proxy, self.metrics, lambda: self._started
        )
        self.gate = ConnectionGate(1)
        self._keepers: list[PoolKeeper] = []
        self._runners: list[web.AppRunner] = []
        self._listeners: list[asyncio.Server] = []
        self._session: aiohttp.ClientSession | None = None
        self._client: UpstreamClient | None = None
        self._started = False
        self.port = config.listen.port
        self.metrics_port = config.metrics.port
        self._register_gauges()

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        return self.surface.app()

    def _register_gauges(self) -> None:
        pools = self.pools
        label = self.proxy.backend_label

        def pending() -> Iterable[tuple[Labels, float]]:
            return [((p.name,), float(p.pending)) for p in pools.values()]

        def backend_up() -> Iterable[tuple[Labels, float]]:
            return [
                ((p.name, label(p.name, url)), float(url in p.available))
                for p in pools.values()
                for url in p.backends
            ]

        def outstanding() -> Iterable[tuple[Labels, float]]:
            return [
                ((p.name, label(p.name, url)), float(p.stats[url].outstanding))
                for p in pools.values()
                for url in p.backends
            ]

        add = self.metrics.add_gauge
        add(
            "kubellm_pool_pending_requests",
            "Requests held while the pool has no ready backend (scale from zero).",
            ("pool",),
            pending,
        )
        add(
            "kubellm_gateway_in_flight_requests",
            "Requests being handled.",
            (),
            lambda: [((), float(self.proxy.in_flight))],
        )
        add(
            "kubellm_gateway_queued_requests",
            "Requests waiting for a concurrency slot.",
            (),
            lambda: [((), float(self.admission.queued))],
        )
        add(
            "kubellm_gateway_open_connections",
            "Client connections open (at most listen.max_connections).",
            (),
            lambda: [((), float(self.gate.open))],
        )
        add(
            "kubellm_gateway_backend_up",
            "1 when the backend is healthy and not ejected.",
            ("pool", "backend"),
            backend_up,
        )
        add(
            "kubellm_gateway_backend_outstanding_requests",
            "Requests in flight per backend.",
            ("pool", "backend"),
            outstanding,
        )

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the upstream pool, discover and probe backends, then listen."""
        asyncio.get_running_loop().set_exception_handler(loop_exception_handler)
        self._limit_connections()
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=self.config.max_connections_per_backend,
            keepalive_timeout=30.0,
            ttl_dns_cache=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
        )
        self._client = make_upstream_client(self.config)
        self.proxy.client = self._client
        for pool in self.pools.values():
            keeper = PoolKeeper(
                pool, make_discovery(pool.config.backends), self.config.health_checks, self._session
            )
            self._keepers.append(keeper)
        await asyncio.gather(*(keeper.start() for keeper in self._keepers))
        if self.audit is not None:
            self.audit.start()
        listen = self.config.listen
        self.port = await self._listen(self.surface.app(), listen.port, self._ssl_context())
        if self.config.metrics.port is not None:
            self.metrics_port = await self._listen(self.surface.metrics_app(), self.config.metrics.port, None)
        self._started = True
        if not self.keys.enabled and not is_loopback(listen.host):
            log.warning(
                "listening beyond loopback without API keys: anyone who can reach this port can use the "
                "models; pass --api-keys FILE",
                extra={"host": listen.host, "port": self.port},
            )
        log.info(
            "gateway listening",
            extra={"host": listen.host, "port": self.port, "pools": list(self.pools), "keys": len(self.keys)},
        )

    def _limit_connections(self) -> None:
        open_files = raise_open_file_limit()
        limit, lowered = connection_limit(self.config.listen.max_connections, open_files)
        self.gate.limit = limit
        if lowered:
            log.warning(
                "listen.max_connections %d is more than the open-file limit allows; using %d — raise the "
                "limit (ulimit -n, or the container's nofile) to allow more",
                self.config.listen.max_connections,
                limit,
                extra={"open_file_limit": open_files},
            )

    async def _listen(self, app: web.Application, port: int, ssl_context: ssl.SSLContext | None) -> int:
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        listen = self.config.listen
        try:
            listener = await open_listener(
                runner,
                listen.host,
                port,
                ssl_context=ssl_context,
                gate=self.gate,
                header_timeout_s=listen.header_timeout_s,
                idle_timeout_s=listen.idle_timeout_s,
            )
        except OSError as exc:
            await runner.cleanup()
            await self.stop()
            raise UsageError(
                f"cannot listen on {listen.host}:{port}: {exc.strerror}",
                "pick another port or stop what uses it",
            ) from None
        self._runners.append(runner)
        self._listeners.append(listener)
        return int(listener.sockets[0].getsockname()[1]) if listener.sockets else port

    def _ssl_context(self) -> ssl.SSLContext | None:
        listen = self.config.listen
        if listen.tls_cert is None or listen.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(listen.tls_cert, listen.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(
                f"cannot load TLS certificate/key: {exc}", "give PEM files that belong together"
            ) from None
        return context

    async def drain(self, timeout_s: float | None = None) -> int:
        """Stop accepting, let in-flight requests finish (up to the drain timeout), then stop.

        Requests still in flight at the deadline are ended cleanly (a stream with an error event and
        ``[DONE]``, an unanswered request with a 503) and logged as cut by the deadline. Returns how
        many were cut (0 = clean drain).
        """
        self.proxy.draining = True
        deadline = time.monotonic() + (self.config.drain_timeout_s if timeout_s is None else timeout_s)
        for listener in self._listeners:
            listener.close()
        while self.proxy.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        cut = self.proxy.cut_in_flight() if self.proxy.in_flight else 0
        if cut:
            log.warning("drain deadline passed: ending requests still in flight", extra={"cut_off": cut})
            grace = time.monotonic() + _CUT_GRACE_S
            while self.proxy.in_flight > 0 and time.monotonic() < grace:
                await asyncio.sleep(0.01)
        await self.stop()
        return cut

    async def stop(self) -> None:
        """Close everything at once."""
        self.proxy.draining = True
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        for keeper in self._keepers:
            await keeper.stop()
        self._keepers.clear()
        if self.audit is not None:
            await self.audit.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._session is not None:
            await self._session.close()
            self._session = None


def make_upstream_client(config: GatewayConfig) -> UpstreamClient:
    """The upstream client the config names (the fast one unless ``upstream_client: aiohttp``)."""
    kind = AiohttpUpstreamClient if config.upstream_client == "aiohttp" else HttptoolsUpstreamClient
    return kind(config.timeouts, config.max_connections_per_backend)


async def serve(
    config: GatewayConfig, keys: ApiKeyStore | None = None, on_ready: Callable[[Gateway], None] | None = None
) -> int:
    """Run until SIGTERM or SIGINT, then drain; returns requests cut off by the drain deadline."""
    gateway = Gateway(config, keys=keys)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await gateway.start()
    except BaseException:
        await gateway.stop()
        raise
    if on_ready is not None:
        on_ready(gateway)
    await stop.wait()
    log.info("draining", extra={"in_flight": gateway.proxy.in_flight, "deadline_s": config.drain_timeout_s})
    left = await gateway.drain()
    log.info("stopped", extra={"cut_off": left})
    return left


def run_gateway(
    config: GatewayConfig, keys: ApiKeyStore | None = None, on_ready: Callable[[Gateway], None] | None = None
) -> int:
    """Run the gateway in this process on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(serve(config, keys, on_ready))
