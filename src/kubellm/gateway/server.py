"""The gateway process: routes, lifecycle (start, drain on SIGTERM, stop), and the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from kubellm.gateway.config import build_pools, is_loopback, load_keys
from kubellm.gateway.discovery import make_discovery
from kubellm.gateway.health import PoolKeeper
from kubellm.gateway.logs import AuditLog
from kubellm.gateway.metrics import GatewayMetrics, Labels
from kubellm.gateway.proxy import Proxy
from kubellm.gateway.rejection import Rejection, error_body
from kubellm.gateway.upstream import UpstreamClient
from kubellm.gateway.upstream_aiohttp import AiohttpUpstreamClient
from kubellm.gateway.upstream_httptools import HttptoolsUpstreamClient
from kubellm.spec.gateway import GatewayConfig

log = logging.getLogger("kubellm.gateway")
_JSON = {"Content-Type": "application/json"}


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
        self.metrics = GatewayMetrics()
        self.pools = build_pools(config, self._clock)
        self.admission = Admission(config.admission, self._clock)
        self.audit = AuditLog(audit_stream) if config.audit_log else None
        self.proxy = Proxy(config, self.pools, self.keys, self.admission, self.metrics, self.audit)
        self._keepers: list[PoolKeeper] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._client: UpstreamClient | None = None
        self._started = False
        self.port = config.listen.port
        self._register_gauges()

    # --- HTTP surface ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(client_max_size=self.config.admission.max_body_bytes)
        handle = self.proxy.handle
        app.router.add_post("/v1/chat/completions", handle)
        app.router.add_post("/v1/completions", handle)
        app.router.add_post("/v1/embeddings", handle)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._ready)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def _models(self, request: web.Request) -> web.Response:
        if self.keys.enabled:
            try:
                self.keys.authenticate(request.headers.get("Authorization"))
            except Rejection as rejection:
                self.metrics.rejections.inc((rejection.reason,))
                return web.Response(status=401, body=rejection.body(), headers=rejection.headers())
        created = int(time.time())
        data = [
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "kubellm",
                "root": pool.upstream_model,
            }
            for pool in self.pools.values()
            for name in (pool.name, *pool.config.aliases)
        ]
        return web.Response(body=json.dumps({"object": "list", "data": data}).encode(), headers=_JSON)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', headers=_JSON)

    async def _ready(self, request: web.Request) -> web.Response:
        if self._started and not self.proxy.draining:
            return web.Response(body=b'{"status":"ready"}', headers=_JSON)
        state = b"draining" if self.proxy.draining else b"starting"
        return web.Response(status=503, body=b'{"status":"' + state + b'"}', headers=_JSON)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self.metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        message = f"no route for {request.method} {request.path}"
        return web.Response(status=404, body=error_body(404, message, "not_found"), headers=_JSON)

    def _register_gauges(self) -> None:
        pools = self.pools

        def pending() -> Iterable[tuple[Labels, float]]:
            return [((p.name,), float(p.pending)) for p in pools.values()]

        def backend_up() -> Iterable[tuple[Labels, float]]:
            return [((p.name, url), float(url in p.available)) for p in pools.values() for url in p.backends]

        def outstanding() -> Iterable[tuple[Labels, float]]:
            return [
                ((p.name, url), float(p.stats[url].outstanding)) for p in pools.values() for url in p.backends
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
        runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        listen = self.config.listen
        site = web.TCPSite(runner, listen.host, listen.port, ssl_context=self._ssl_context(), backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(
                f"cannot listen on {listen.host}:{listen.port}: {exc.strerror}",
                "pick another --port or stop what uses it",
            ) from None
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
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

        Returns the number of requests still in flight when the deadline passed (0 = clean drain).
        """
        self.proxy.draining = True
        deadline = time.monotonic() + (self.config.drain_timeout_s if timeout_s is None else timeout_s)
        if self._runner is not None:
            for site in list(self._runner.sites):
                await site.stop()
        while self.proxy.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        left = self.proxy.in_flight
        await self.stop()
        return left

    async def stop(self) -> None:
        """Close everything at once."""
        self.proxy.draining = True
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
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
