"""How each routing policy spreads 1,000 requests when one of two backends is ten times slower.

On 127.0.0.1: two small OpenAI-compatible engines in a process of their own (fast: 10 ms per
request, slow: 100 ms; the slow one also reports a queue on /metrics, as a loaded vLLM would), the
kubellm gateway in front, and a closed-loop client with 16 concurrent requests.

    python benchmarks/gateway_routing.py            # ~30 s
    python benchmarks/gateway_routing.py --requests 400 --concurrency 8

Prints three tables:
  1. share of requests the slow backend received, per policy;
  2. prefix affinity: requests of 20 shared prompt prefixes — the share of each prefix's requests
     that went to its most-used backend, and whether any backend ever held more in-flight requests
     than the bounded-load limit ceil(1.25 × (in-flight + 1) / backends);
  3. fallback: a pool capped at 4 in-flight requests per backend spilling to a fallback pool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import random
import sys
from collections import Counter, defaultdict
from typing import Any

import aiohttp
from aiohttp import web

from kubellm.gateway.server import Gateway
from kubellm.spec.gateway import GatewayConfig

POLICIES = ("round-robin", "least-outstanding", "power-of-two", "prefix-affinity", "session-affinity")


class Engine:
    """A tiny engine: fixed delay per request, a fixed answer, counts, and vLLM-named /metrics."""

    def __init__(self, name: str, delay_s: float, waiting: float) -> None:
        self.name, self.delay_s, self.waiting = name, delay_s, waiting
        self.in_flight = 0
        self.peak = 0
        self.hits: Counter[str] = Counter()
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/health", lambda r: web.Response(text="ok"))
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/stats", lambda r: web.json_response({"hits": self.hits, "peak": self.peak}))
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            text=f"vllm:num_requests_waiting {self.waiting}\nvllm:num_requests_running {self.in_flight}\n"
        )

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.hits[body["messages"][0]["content"][:40]] += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        answer = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
        return web.json_response(answer)


def _serve_engines(specs: list[tuple[str, float, float]], urls: Any) -> None:
    async def run() -> None:
        engines = [Engine(*spec) for spec in specs]
        for engine in engines:
            await engine.start()
        urls.put([engine.url for engine in engines])
        await asyncio.Event().wait()

    asyncio.run(run())


class EngineProcess:
    """Engines in a process of their own, as they would be on their own machines."""

    def __init__(self, *specs: tuple[str, float, float]) -> None:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        self.process = context.Process(target=_serve_engines, args=(list(specs), queue), daemon=True)
        self.process.start()
        self.urls: list[str] = queue.get(timeout=60)

    async def stats(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            result = []
            for url in self.urls:
                async with session.get(url + "/stats") as resp:
                    result.append(await resp.json())
            return result

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


async def drive(base: str, model: str, requests: int, concurrency: int, prompt: Any) -> list[int]:
    """Closed loop: ``concurrency`` workers send ``requests`` in all; returns the statuses."""
    statuses: list[int] = []
    counter = iter(range(requests))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for i in counter:
                system, user = prompt(i)
                body = {
                    "model": model,
                    "max_tokens": 1,
                    "user": user,
                    "messages": [{"role": "system", "content": system}, {"role": "user", "content": f"q{i}"}],
                }
                async with session.post(base + "/v1/chat/completions", json=body) as resp:
                    await resp.read()
                    statuses.append(resp.status)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


async def with_gateway(config: dict[str, Any]) -> Gateway:
    config.setdefault("listen", {"host": "127.0.0.1", "port": 0})
    config.setdefault("health_checks", {"interval_s": 1.0})
    config["audit_log"] = False
    gateway = Gateway(GatewayConfig.model_validate(config))
    await gateway.start()
    return gateway


async def policy_share(policy: str, args: argparse.Namespace) -> dict[str, Any]:
    engines = EngineProcess(("fast", 0.010, 0.0), ("slow", 0.100, 4.0))
    gateway = await with_gateway(
        {
            "pools": [
                {
                    "name": "m",
                    "routing": policy,
                    "metrics_interval_s": 0.1,
                    "backends": {"kind": "static", "urls": engines.urls},
                }
            ]
        }
    )
    await asyncio.sleep(0.3)  # first engine-metrics scrape
    rng = random.Random(0)
    sessions = [f"user-{i}" for i in range(50)]
    prefixes = [f"You are assistant number {i}. " * 12 for i in range(20)]
    started = asyncio.get_running_loop().time()
    statuses = await drive(
        f"http://127.0.0.1:{gateway.port}",
        "m",
        args.requests,
        args.concurrency,
        lambda i: (rng.choice(prefixes), rng.choice(sessions)),
    )
    elapsed = asyncio.get_running_loop().time() - started
    await gateway.stop()
    fast, slow = await engines.stats()
    engines.stop()
    fast_n, slow_n = sum(fast["hits"].values()), sum(slow["hits"].values())
    return {
        "policy": policy,
        "requests": len(statuses),
        "ok": statuses.count(200),
        "slow_share": slow_n / (slow_n + fast_n),
        "fast": fast_n,
        "slow": slow_n,
        "req_per_s": len(statuses) / elapsed,
    }


async def prefix_stickiness(args: argparse.Namespace, slow_factor: float) -> dict[str, Any]:
    engines = EngineProcess(("a", 0.010, 0.0), ("b", 0.010 * slow_factor, 0.0))
    gateway = await with_gateway(
        {
            "pools": [
                {
                    "name": "m",
                    "routing": "prefix-affinity",
                    "load_bound": 1.25,
                    "backends": {"kind": "static", "urls": engines.urls},
                }
            ]
        }
    )
    pool = gateway.pools["m"]
    worst = {"excess": -math.inf}
    select = pool.router.select

    def checked_select(request: Any, endpoints: Any, stats: Any) -> str:
        # the bound holds at the moment of choice: chosen backend's in-flight count, this request
        # included, against ceil(1.25 x (in-flight + 1) / backends)
        url: str = select(request, endpoints, stats)
        total = sum(stats[u].outstanding for u in endpoints) + 1
        bound = math.ceil(1.25 * total / len(endpoints))
        worst["excess"] = max(worst["excess"], stats[url].outstanding + 1 - bound)
        return url

    pool.router.select = checked_select  # type: ignore[method-assign]
    rng = random.Random(1)
    prefixes = [f"Shared system prompt {i}: answer like a pirate. " * 8 for i in range(20)]
    statuses = await drive(
        f"http://127.0.0.1:{gateway.port}",
        "m",
        args.requests,
        args.concurrency,
        lambda i: (rng.choice(prefixes), None),
    )
    await gateway.stop()
    per_prefix: dict[str, list[int]] = defaultdict(list)
    for stats in await engines.stats():
        for prefix, n in stats["hits"].items():
            per_prefix[prefix].append(n)
    engines.stop()
    shares = sorted(max(ns) / sum(ns) for ns in per_prefix.values())
    sticky = sum(max(ns) for ns in per_prefix.values()) / sum(sum(ns) for ns in per_prefix.values())
    return {
        "backends": f"2 ({'equal' if slow_factor == 1 else f'one {slow_factor:g}x slower'})",
        "requests": len(statuses),
        "ok": statuses.count(200),
        "sticky_share": sticky,
        "worst_prefix": shares[0],
        "bound_exceeded_by": worst["excess"],
    }


async def fallback_spill(args: argparse.Namespace) -> dict[str, Any]:
    engines = EngineProcess(("main", 0.100, 0.0), ("small", 0.010, 0.0))
    main_url, small_url = engines.urls
    gateway = await with_gateway(
        {
            "pools": [
                {
                    "name": "big",
                    "backends": {"kind": "static", "urls": [main_url]},
                    "max_outstanding_per_backend": 4,
                    "fallback_pool": "small",
                },
                {"name": "small", "backends": {"kind": "static", "urls": [small_url]}},
            ]
        }
    )
    statuses = await drive(
        f"http://127.0.0.1:{gateway.port}", "big", args.requests, args.concurrency, lambda i: ("x", None)
    )
    spilled = gateway.metrics.spills.values.get(("big", "small"), 0.0)
    await gateway.stop()
    main, _ = await engines.stats()
    engines.stop()
    return {
        "requests": len(statuses),
        "ok": statuses.count(200),
        "to_big": sum(main["hits"].values()),
        "spilled": int(spilled),
        "spill_share": spilled / len(statuses),
        "peak_in_flight_big": main["peak"],
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    shares = [await policy_share(policy, args) for policy in POLICIES]
    sticky = [await prefix_stickiness(args, 10.0), await prefix_stickiness(args, 1.0)]
    spill = await fallback_spill(args)
    return {"policies": shares, "prefix_affinity": sticky, "fallback": spill}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent client requests")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"1. Share of {args.requests} requests sent to the 10x slower backend (concurrency {args.concurrency})\n"
    )
    print("| policy | slow backend share | fast | slow | ok | req/s |\n|---|---:|---:|---:|---:|---:|")
    for row in result["policies"]:
        print(
            f"| {row['policy']} | {row['slow_share']:.1%} | {row['fast']} | {row['slow']} | {row['ok']} | "
            f"{row['req_per_s']:.0f} |"
        )
    print("\n2. Prefix affinity over 20 shared prefixes (load bound 1.25)\n")
    print(
        "| backends | requests on each prefix's main backend | worst prefix | max (in-flight − bound) at choice, ≤ 0 = held | ok |"
    )
    print("|---|---:|---:|---:|---:|")
    for row in result["prefix_affinity"]:
        print(
            f"| {row['backends']} | {row['sticky_share']:.1%} | {row['worst_prefix']:.1%} | "
            f"{row['bound_exceeded_by']:+g} | {row['ok']} |"
        )
    row = result["fallback"]
    print("\n3. Fallback: pool 'big' (1 backend, 100 ms, max 4 in flight) spilling to 'small'\n")
    print("| requests | served by big | spilled to small | spill share | peak in flight on big | ok |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {row['requests']} | {row['to_big']} | {row['spilled']} | {row['spill_share']:.1%} | "
        f"{row['peak_in_flight_big']} | {row['ok']} |"
    )


if __name__ == "__main__":
    sys.exit(main())
