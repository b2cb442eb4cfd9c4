"""How much the simulator can carry: 1,000 concurrent streams in one process, and an hour in virtual time.

Part 1 starts `kubellm sim` (Llama-3.1-8B on one H100) as its own process, opens N concurrent
streaming completions against it from this process (raw aiohttp, so the client stays light), and
reads the server's own CPU time (`process_cpu_seconds_total`) and token count from /metrics before
and after: CPU per generated token, and how far real time fell behind the modelled step time.

Part 2 replays one hour of Poisson traffic at 5 req/s (512 in / 256 out) in virtual time, with the
fast-forward of pure-decode runs and without it.

Run: .venv/bin/python benchmarks/sim_capacity.py [--streams 1000] [--tokens 64] [--time-scale 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import aiohttp

from kubellm.sim.config import planned_engine, service_from_flags
from kubellm.sim.trace import poisson_trace
from kubellm.sim.virtual import replay

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
PROMPT = "Write one long sentence about GPUs and queues."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


async def _stream(session: aiohttp.ClientSession, url: str, tokens: int) -> int:
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": tokens, "stream": True}
    chunks = 0
    async with session.post(url, json=body) as response:
        response.raise_for_status()
        async for line in response.content:
            if line.startswith(b"data: {"):
                chunks += 1
    return chunks


async def _load(base: str, streams: int, tokens: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for _ in range(100):
            try:
                async with session.get(f"{base}/health") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        async with session.get(f"{base}/metrics") as r:
            before = await r.text()
        peak_running = 0.0

        async def watch() -> None:
            nonlocal peak_running
            while True:
                await asyncio.sleep(0.5)
                async with session.get(f"{base}/metrics") as r:
                    peak_running = max(peak_running, _metric(await r.text(), "vllm:num_requests_running"))

        watcher = asyncio.create_task(watch())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        counts = await asyncio.gather(
            *(_stream(session, f"{base}/v1/completions", tokens) for _ in range(streams))
        )
        wall, client_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        watcher.cancel()
        async with session.get(f"{base}/metrics") as r:
            after = await r.text()
    generated = _metric(after, "vllm:generation_tokens_total") - _metric(
        before, "vllm:generation_tokens_total"
    )
    server_cpu = _metric(after, "process_cpu_seconds_total") - _metric(before, "process_cpu_seconds_total")
    itl_sum = _metric(after, "vllm:inter_token_latency_seconds_sum") - _metric(
        before, "vllm:inter_token_latency_seconds_sum"
    )
    itl_count = _metric(after, "vllm:inter_token_latency_seconds_count") - _metric(
        before, "vllm:inter_token_latency_seconds_count"
    )
    return {
        "completed": sum(1 for c in counts if c == tokens),
        "chunks": sum(counts),
        "generated": generated,
        "wall_s": wall,
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
        "peak_running": peak_running,
        "server_itl_ms": itl_sum / max(itl_count, 1) * 1e3,
    }


def part_streams(streams: int, tokens: int, time_scale: float) -> None:
    port = _free_port()
    cmd = [sys.executable, "-c", "from kubellm.cli.app import main; main()", "sim", "--model", MODEL, "--gpu", "h100", "--port", str(port),
           "--max-model-len", "4096", "--time-scale", str(time_scale)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        result = asyncio.run(_load(f"http://127.0.0.1:{port}", streams, tokens))
    finally:
        server.terminate()
        server.wait(10)
    _, _, timer = planned_engine(service_from_flags(MODEL, "h100", max_model_len=4096))
    prompt_tokens = 12
    modelled_decode_s = (
        sum(timer.step_ms(0, streams, streams * (prompt_tokens + i)) for i in range(tokens)) / 1e3
    )
    modelled_prefill_s = timer.step_ms(streams * prompt_tokens, 0, 0) / 1e3
    modelled_s = (modelled_decode_s + modelled_prefill_s) * time_scale
    print(
        f"{streams} concurrent streams × {tokens} tokens, time scale {time_scale:g} (Llama-3.1-8B, 1×H100 model)"
    )
    print(
        f"  completed streams        {result['completed']:.0f} / {streams} (peak vllm:num_requests_running {result['peak_running']:.0f})"
    )
    print(
        f"  tokens generated         {result['generated']:,.0f} ({result['chunks']:,.0f} SSE chunks received)"
    )
    print(f"  wall time                {result['wall_s']:.2f} s (modelled engine time {modelled_s:.2f} s → "
          f"{result['wall_s'] / modelled_s:.2f}× real time)")  # fmt: skip
    modelled_itl_ms = timer.step_ms(0, streams, streams * (prompt_tokens + tokens // 2)) * time_scale
    print(f"  mean ITL at the server   {result['server_itl_ms']:.2f} ms (modelled decode step at batch {streams}: "
          f"{modelled_itl_ms:.2f} ms → {result['server_itl_ms'] / modelled_itl_ms:.2f}×)")  # fmt: skip
    print(
        f"  server CPU               {result['server_cpu_s']:.2f} s = {result['server_cpu_s'] / result['generated'] * 1e6:.1f} µs per token"
    )
    print(
        f"  client CPU (this process) {result['client_cpu_s']:.2f} s = {result['client_cpu_s'] / result['generated'] * 1e6:.1f} µs per token"
    )
    print(f"  server throughput        {result['generated'] / result['wall_s']:,.0f} tokens/s over HTTP")


def part_virtual_hour() -> None:
    _, config, timer = planned_engine(service_from_flags(MODEL, "h100", max_model_len=8192))
    trace = poisson_trace(5.0, 3600.0, 512, 256, seed=0)
    print(
        f"\nvirtual time: one hour of Poisson traffic at 5 req/s ({len(trace):,} requests, 512 in / 256 out, 1×H100)"
    )
    for fast in (True, False):
        t0, c0 = time.perf_counter(), time.process_time()
        summary = replay(config, timer, trace, fast_forward=fast).summary()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"  fast-forward {'on ' if fast else 'off'}  {wall:5.2f} s wall ({cpu:.2f} s CPU) for {summary['steps']:,} engine steps "
            f"({summary['fast_forward_steps']:,} fast-forwarded); TTFT p95 {summary['ttft_ms']['p95']:.1f} ms, "
            f"ITL p50 {summary['itl_ms']['p50']:.2f} ms, {summary['output_tokens_per_s']:,.0f} output tok/s"
        )
    print(json.dumps({k: summary[k] for k in ("completed", "preemptions", "peak_running", "peak_kv_usage")}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--skip-streams", action="store_true")
    args = parser.parse_args()
    if not args.skip_streams:
        part_streams(args.streams, args.tokens, args.time_scale)
    part_virtual_hour()


if __name__ == "__main__":
    main()
