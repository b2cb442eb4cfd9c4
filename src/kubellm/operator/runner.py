"""`kubellm operator`: run the handlers under leader election, with a health endpoint every replica answers.

Every replica serves ``/healthz`` (alive) and ``/readyz`` (200 while it leads, 503 while it stands by),
so a standby is never restarted for not leading. The leader runs kopf on its own registry; a lost
Lease stops it and the process exits non-zero (its Deployment starts it again as a standby).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import kopf
from aiohttp import web

from kubellm.cluster.client import KubeClient
from kubellm.cluster.kubeconfig import Credentials
from kubellm.operator.handlers import FIELD_MANAGER, OperatorContext, registry_for, settings
from kubellm.operator.leader import LeaderElector, LeaseTimes, lead

log = logging.getLogger("kubellm.operator")


@dataclass
class OperatorOptions:
    """How one operator process runs."""

    identity: str
    lease_namespace: str
    namespaces: list[str] = field(default_factory=list)  # empty: every namespace
    resync_s: float = 30.0
    leader_election: bool = True
    health_port: int | None = 8081
    lease_times: LeaseTimes = field(default_factory=LeaseTimes)


@dataclass
class Health:
    leading: bool = False


def _health_app(health: Health) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if health.leading:
            return web.Response(text="leading\n")
        return web.Response(status=503, text="standing by\n")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def run_kopf(
    ctx: OperatorContext, options: OperatorOptions, stop: asyncio.Event, health: Health
) -> None:
    """kopf with kubellm's registry and settings until ``stop`` is set (peering off: the Lease elects)."""
    health.leading = True
    try:
        await kopf.operator(
            registry=registry_for(ctx),
            settings=settings(),
            standalone=True,
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            stop_flag=stop,
            memo=kopf.Memo(context=ctx),
        )
    finally:
        health.leading = False


async def serve(
    credentials: Credentials, options: OperatorOptions, stop: asyncio.Event | None = None
) -> None:
    """The whole operator process: health endpoint, leader election, kopf."""
    stop = stop or asyncio.Event()
    health = Health()
    runner = None
    if options.health_port is not None:
        runner = web.AppRunner(_health_app(health))
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", options.health_port).start()
    client = KubeClient(credentials, field_manager=FIELD_MANAGER)
    ctx = OperatorContext(client, credentials, resync_s=options.resync_s)

    async def work(until: asyncio.Event) -> None:
        await run_kopf(ctx, options, until, health)

    try:
        if options.leader_election:
            elector = LeaderElector(
                client, options.lease_namespace, options.identity, times=options.lease_times
            )
            await lead(elector, work, stop)
        else:
            await work(stop)
    finally:
        client.close()
        if runner is not None:
            await runner.cleanup()
