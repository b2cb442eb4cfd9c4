"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Two operator replicas never reconcile at once: only the holder of the Lease runs the handlers. The
decision is pure (``next_lease``): take a Lease nobody holds or whose holder stopped renewing it for
``leaseDurationSeconds`` — measured on this replica's own clock from when it first saw the current
record, so clock skew between nodes does not matter — renew our own, and otherwise wait. Writes use
the Lease's resourceVersion: of two replicas racing for the same Lease the server accepts one and
answers the other 409 Conflict. (kopf's peering pauses *every* operator of equal priority, so it
cannot elect one of two identical replicas; it stays off.)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from kubellm.cluster.client import ApiError, ClusterError, KubeClient

LEASE_API = "coordination.k8s.io/v1"
MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
log = logging.getLogger("kubellm.operator.leader")


@dataclass(frozen=True, slots=True)
class LeaseTimes:
    """How long a Lease lasts and how often its holder renews it (client-go's defaults scaled down)."""

    duration_s: int = 15
    renew_s: float = 5.0
    retry_s: float = 2.0


def micro_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(MICRO_TIME)


def record_of(lease: dict[str, Any] | None) -> tuple[str, str]:
    """(holder, renewTime): what changes whenever a holder renews."""
    spec = (lease or {}).get("spec") or {}
    return str(spec.get("holderIdentity") or ""), str(spec.get("renewTime") or "")


def next_lease(
    lease: dict[str, Any] | None,
    me: str,
    now: dt.datetime,
    unchanged_for_s: float,
    times: LeaseTimes,
    name: str,
    namespace: str,
) -> dict[str, Any] | None:
    """The Lease to write to hold leadership now, or None while another holder's Lease is valid.

    ``unchanged_for_s``: how long this replica has seen the same (holder, renewTime) record."""
    stamp = micro_time(now)
    if lease is None:
        return {
            "apiVersion": LEASE_API,
            "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "holderIdentity": me,
                "leaseDurationSeconds": times.duration_s,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }
    spec = dict(lease.get("spec") or {})
    holder = str(spec.get("holderIdentity") or "")
    duration = int(spec.get("leaseDurationSeconds") or times.duration_s)
    if holder and holder != me and unchanged_for_s < duration:
        return None
    updated = {k: v for k, v in lease.items() if k != "status"}
    if holder != me:
        spec["acquireTime"] = stamp
        spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
    spec.update({"holderIdentity": me, "leaseDurationSeconds": times.duration_s, "renewTime": stamp})
    updated["spec"] = spec
    return updated


def released(lease: dict[str, Any], me: str) -> dict[str, Any] | None:
    """Our Lease with no holder (on a clean stop, so a standby takes over at once); None if not ours."""
    if record_of(lease)[0] != me:
        return None
    spec = dict(lease.get("spec") or {})
    spec.update({"holderIdentity": "", "leaseDurationSeconds": 1})
    return {**lease, "spec": spec}


class LeaderElector:
    """Acquire, renew and release one Lease through the cluster client (blocking calls)."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        identity: str,
        name: str = "kubellm-operator",
        times: LeaseTimes | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.client, self.namespace, self.identity, self.name = client, namespace, identity, name
        self.times = times or LeaseTimes()
        self.clock, self.wall = clock, wall
        self._seen: tuple[str, str] | None = None
        self._seen_at = 0.0
        self.last_renewed = float("-inf")

    def _path(self, with_name: bool) -> str:
        resource = self.client.resource(LEASE_API, "Lease")
        return self.client.path(resource, self.namespace, self.name if with_name else None)

    def try_acquire_or_renew(self) -> bool:
        """One round: True when this replica holds the Lease afterwards."""
        lease = self.client.get(LEASE_API, "Lease", self.namespace, self.name)
        record = record_of(lease)
        now = self.clock()
        if record != self._seen:
            self._seen, self._seen_at = record, now
        wanted = next_lease(
            lease, self.identity, self.wall(), now - self._seen_at, self.times, self.name, self.namespace
        )
        if wanted is None:
            return False
        try:
            if lease is None:
                self.client.request("POST", self._path(False), body=wanted)
            else:
                self.client.request("PUT", self._path(True), body=wanted)
        except ApiError as exc:
            if exc.status == 409:  # another replica wrote first: it holds the Lease
                return False
            raise
        self.last_renewed = now
        return True

    def expired_for_us(self) -> bool:
        """Whether our last successful renewal is older than the Lease duration (others may lead now)."""
        return self.clock() - self.last_renewed >= self.times.duration_s

    def release(self) -> None:
        lease = self.client.get(LEASE_API, "Lease", self.namespace, self.name)
        body = released(lease, self.identity) if lease else None
        if body is not None:
            try:
                self.client.request("PUT", self._path(True), body=body)
            except ApiError as exc:
                if exc.status != 409:
                    raise


class LeadershipLost(ClusterError):
    """The Lease was not renewed in time: another replica may be leading."""


async def _round(elector: LeaderElector) -> bool:
    try:
        return await asyncio.to_thread(elector.try_acquire_or_renew)
    except ClusterError as exc:  # the API server is unreachable or refused: try again next round
        log.warning("leader election: %s", exc)
        return False


async def _sleep_unless(flag: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(flag.wait(), seconds)


async def lead(
    elector: LeaderElector,
    work: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    done: asyncio.Event | None = None,
) -> None:
    """Wait for the Lease, then run ``work`` while renewing it; stop the work and raise if it is lost.

    ``work`` gets an event that is set when it must stop (the Lease is lost, or ``done`` is set)."""
    done = done or asyncio.Event()
    while not done.is_set() and not await _round(elector):
        await _sleep_unless(done, elector.times.retry_s)
    if done.is_set():
        return
    log.info("leader election: %s holds %s/%s", elector.identity, elector.namespace, elector.name)
    stop = asyncio.Event()
    relay = asyncio.create_task(_relay(done, stop))
    task = asyncio.create_task(work(stop))
    try:
        while not task.done():
            finished, _ = await asyncio.wait({task}, timeout=elector.times.renew_s)
            if finished:
                break
            if not await _round(elector) and elector.expired_for_us():
                stop.set()
                await task
                raise LeadershipLost(
                    f"lost the Lease {elector.namespace}/{elector.name}",
                    "the operator stops so that only one replica reconciles; its Deployment restarts it",
                )
        await task
    finally:
        relay.cancel()
        if not task.done():
            stop.set()
            await task
        with contextlib.suppress(ClusterError):
            await asyncio.to_thread(elector.release)


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()
