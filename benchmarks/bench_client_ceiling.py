#!/usr/bin/env python3
"""Client ceiling: how many requests/s `kubellm bench` drives from one CPU core, against a bare client.

Setup (the method of the peer harness, shared/peer-bench/bench/README.md §(b)): a zero-delay streaming
server (tests/bench/fake_server.py, TTFT 0, ITL 0, 16-token streams) pinned to one core, and each
client in turn pinned to the other core, at concurrency 64 for --duration seconds:

- ``bare``: a minimal aiohttp closed loop that reads each SSE line and keeps no records (the yardstick,
  written here after the idea of the harness's ref_client.py);
- ``kubellm``: the `kubellm bench` load generator (``kubellm.bench.runner.BenchRun``), with every
  per-request and per-chunk record it keeps for its metrics.

- ``harness``: the peer harness's own ref_client.py, run unchanged when that file is present
  (``--harness-ref``, default shared/peer-bench/bench/ref_client.py next to the repository); it reports
  no in-flight count.

Rounds alternate the order. "CPU busy" is the client's CPU time over its wall time: near 100 % the
client is the limit; well below, the server (or other work on the machine) is. The table shows req/s, output tok/s, TTFT p50, the mean number of
requests in flight, and kubellm's req/s as a fraction of the bare client's in the same round.

    .venv/bin/python benchmarks/bench_client_ceiling.py [--duration 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "bench" / "fake_server.py"
HARNESS_REF = ROOT.parent / "shared" / "peer-bench" / "bench" / "ref_client.py"
CONCURRENCY = 64
TOKENS = 16


def _install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


async def _bare(port: int, concurrency: int, duration_s: float) -> dict[str, float]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = json.dumps(
        {
            "model": "fake",
            "stream": True,
            "max_tokens": TOKENS,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hello " * 32}],
        }
    ).encode()
    done = 0
    tokens = 0
    ttfts: list[float] = []
    busy = 0.0
    headers = {"Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession, stop_at: float) -> None:
        nonlocal done, tokens, busy
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            first = None
            async with session.post(url, data=body, headers=headers) as resp:
                async for line in resp.content:
                    if not line.startswith(b"data: "):
                        continue
                    if first is None:
                        first = time.perf_counter() - t0
                    if line.startswith(b"data: [DONE]"):
                        break
                    if b'"usage"' in line:
                        tokens += json.loads(line[6:])["usage"]["completion_tokens"]
            done += 1
            busy += time.perf_counter() - t0
            ttfts.append(first or 0.0)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        await asyncio.gather(*(worker(session, t0 + duration_s) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    return {
        "cpu_us_per_req": cpu / max(done, 1) * 1e6,
        "busy": cpu / elapsed,
        "req_s": done / elapsed,
        "tok_s": tokens / elapsed,
        "ttft_p50_ms": statistics.median(ttfts) * 1000 if ttfts else 0.0,
        "in_flight": busy / elapsed,
        "errors": 0,
    }


async def _kubellm(port: int, concurrency: int, duration_s: float) -> dict[str, float]:
    from kubellm.bench.runner import BenchRun
    from kubellm.bench.workload import build_workload
    from kubellm.spec.bench import BenchConfig

    config = BenchConfig(
        url=f"http://127.0.0.1:{port}",
        model="fake",
        concurrency=[concurrency],
        duration_s=duration_s,
        warmup_s=0.0,  # so that CPU time per request covers exactly the counted requests
        input_tokens=32,
        output_tokens=TOKENS,
    )
    run = BenchRun(config, build_workload(config))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await run.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if results.aborted or not results.points:
        raise SystemExit(f"kubellm run failed: {results.aborted}")
    p = results.points[0]
    return {
        "cpu_us_per_req": cpu / max(p.requests + p.error_count, 1) * 1e6,
        "busy": cpu / wall,
        "req_s": p.requests_per_s,
        "tok_s": p.output_tokens_per_s,
        "ttft_p50_ms": p.ttft_ms.p50 or 0.0,
        "in_flight": p.in_flight,
        "errors": p.error_count,
    }


def _client_main(kind: str, port: int, duration_s: float) -> None:
    _install_uvloop()
    fn = _bare if kind == "bare" else _kubellm
    print(json.dumps(asyncio.run(fn(port, CONCURRENCY, duration_s))), flush=True)


def _pinned(core: str, argv: list[str]) -> list[str]:
    return (["taskset", "-c", core] if shutil.which("taskset") else []) + argv


def _run_client(kind: str, port: int, duration_s: float, harness: Path | None = None) -> dict[str, float]:
    if kind == "harness" and harness is not None:
        argv = _pinned(
            "0",
            [
                sys.executable,
                str(harness),
                "--port",
                str(port),
                "--duration",
                str(duration_s),
                "--max-tokens",
                str(TOKENS),
            ],
        )
    else:
        argv = _pinned(
            "0",
            [sys.executable, __file__, "--client", kind, "--port", str(port), "--duration", str(duration_s)],
        )
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} client failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if kind == "harness":
        result = {
            "req_s": result["req_s"],
            "tok_s": result["output_tok_s"],
            "ttft_p50_ms": result["ttft_p50_ms"],
            "in_flight": float("nan"),
            "errors": 0,
            "cpu_us_per_req": float("nan"),
            "busy": float("nan"),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per client run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each running both clients")
    parser.add_argument(
        "--harness-ref", type=Path, default=HARNESS_REF, help="the peer harness's ref_client.py"
    )
    parser.add_argument("--client", choices=["bare", "kubellm"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        _client_main(args.client, args.port, args.duration)
        return

    server_argv = _pinned(
        "1", [sys.executable, str(SERVER), "--ttft-ms", "0", "--itl-ms", "0", "--max-output", str(TOKENS)]
    )
    load_before = os.getloadavg()[0]
    server = subprocess.Popen(server_argv, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        rows: list[tuple[int, str, dict[str, float], float]] = []
        for round_no in range(1, args.rounds + 1):
            kinds = ["bare", "kubellm"] + (["harness"] if args.harness_ref.is_file() else [])
            order = kinds if round_no % 2 else kinds[::-1]
            got = {kind: _run_client(kind, port, args.duration, args.harness_ref) for kind in order}
            for kind in kinds:
                rows.append((round_no, kind, got[kind], got[kind]["req_s"] / got["bare"]["req_s"]))
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"client ceiling: zero-delay server (core 1), {TOKENS}-token streams, concurrency {CONCURRENCY}, "
        f"client on core 0, {args.duration:g} s per run; load average before: {load_before:.2f}"
    )
    print(
        f"{'round':>5} {'client':<8} {'req/s':>8} {'out tok/s':>10} {'TTFT p50 ms':>12} {'in flight':>10} "
        f"{'errors':>7} {'CPU µs/req':>11} {'CPU busy':>9} {'vs bare':>8}"
    )
    for round_no, kind, r, ratio in rows:
        print(
            f"{round_no:>5} {kind:<8} {r['req_s']:>8.0f} {r['tok_s']:>10.0f} {r['ttft_p50_ms']:>12.2f} "
            f"{r['in_flight']:>10.1f} {int(r['errors']):>7} {r['cpu_us_per_req']:>11.0f} {r['busy']:>9.0%} {ratio:>8.0%}"
        )
    ratios = [ratio for _, kind, _, ratio in rows if kind == "kubellm"]
    cpu = {
        k: statistics.median(r["cpu_us_per_req"] for _, kind, r, _ in rows if kind == k)
        for k in ("bare", "kubellm")
    }
    print(
        f"median kubellm/bare req/s: {statistics.median(ratios):.0%} over {len(ratios)} rounds; "
        f"median client CPU per request: kubellm {cpu['kubellm']:.0f} µs, bare {cpu['bare']:.0f} µs "
        f"(bare/kubellm {cpu['bare'] / cpu['kubellm']:.0%}, a figure other load on the machine disturbs less); "
        f"one full core would carry kubellm {1e6 / cpu['kubellm']:.0f} req/s, bare {1e6 / cpu['bare']:.0f} req/s"
    )


if __name__ == "__main__":
    main()
