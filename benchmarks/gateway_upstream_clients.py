"""CPU per request of the two upstream clients, side by side: the fast httptools one and the aiohttp reference.

An engine stand-in runs in a child process (so its CPU is not counted) and answers a small
non-streamed completion (about 500 bytes), a 64-token SSE stream with a usage event, and a 4 MiB
non-streamed body. This process drives each client at a fixed concurrency and divides its own CPU
time by the requests; the table shows both clients and their ratio:

    python benchmarks/gateway_upstream_clients.py                 # ~30 s
    python benchmarks/gateway_upstream_clients.py --requests 20000 --json

Only the client's own work is measured (no gateway around it); the end-to-end figure through the
gateway is ``benchmarks/gateway_throughput.py --upstream-clients httptools,aiohttp``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SMALL = json.dumps(
    {
        "id": "cmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "t " * 16}, "finish_reason": "length"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 16, "total_tokens": 21},
    }
).encode()
EVENT = b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"t "}}]}\n\n'
STREAM = (
    EVENT * 64
    + b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":64,"total_tokens":69}}\n\n'
    + b"data: [DONE]\n\n"
)
LARGE = b'{"data":"' + b"x" * (4 * 1024 * 1024) + b'","usage":{"prompt_tokens":5,"completion_tokens":1}}'
MODES: dict[str, tuple[bool, int]] = {"small": (False, 64), "stream": (True, 16), "large": (False, 4)}


EVENTS = STREAM.split(b"\n\n")[:-1]


class _Engine(asyncio.Protocol):
    """Answers every request by its path: /small, /stream, /large (keep-alive, Content-Length or chunked)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length :]
            path = head.split(b" ", 2)[1]
            if path == b"/stream":
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                self._stream(EVENTS)
            else:
                payload = LARGE if path == b"/large" else SMALL
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(payload), payload)
                )

    def _stream(self, events: list[bytes]) -> None:
        """One SSE event per loop turn, as an engine writes one per decode step."""
        if self.transport.is_closing():
            return
        if not events:
            self.transport.write(b"0\r\n\r\n")
            return
        event = events[0] + b"\n\n"
        self.transport.write(b"%x\r\n%s\r\n" % (len(event), event))
        asyncio.get_running_loop().call_soon(self._stream, events[1:])


def serve(port: int) -> None:
    """The engine stand-in (child process)."""

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Engine, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    _run(main())


def _run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


async def measure(kind: str, mode: str, origin: str, requests: int) -> dict[str, Any]:
    from kubellm.gateway.upstream import BODY_HIGH_WATER
    from kubellm.gateway.upstream_aiohttp import AiohttpUpstreamClient
    from kubellm.gateway.upstream_httptools import HttptoolsUpstreamClient
    from kubellm.spec.gateway import TimeoutConfig

    factory = HttptoolsUpstreamClient if kind == "httptools" else AiohttpUpstreamClient
    client = factory(TimeoutConfig())
    stream, concurrency = MODES[mode]
    headers = (("X-Request-Id", "bench"),)

    async def one() -> int:
        conn = await client.post(origin, "/" + mode, b'{"model":"m"}', headers, stream)
        size = 0
        if stream:
            async for chunk in conn.chunks():
                size += len(chunk)
        else:
            body = await conn.read_small(BODY_HIGH_WATER)
            if body is None:
                async for chunk in conn.chunks():
                    size += len(chunk)
            else:
                size = len(body)
        conn.release()
        return size

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(
        *(worker(max(1, requests // 20 // concurrency)) for _ in range(concurrency))
    )  # warm-up
    cpu0, wall0 = time.process_time(), time.perf_counter()
    per_worker = max(1, requests // concurrency)
    await asyncio.gather(*(worker(per_worker) for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await client.aclose()
    done = per_worker * concurrency
    return {
        "client": kind,
        "mode": mode,
        "requests": done,
        "cpu_us_per_req": cpu / done * 1e6,
        "req_per_s": done / wall,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def table(rows: list[dict[str, Any]]) -> str:
    by = {(r["client"], r["mode"]): r for r in rows}
    lines = [
        "| mode | httptools CPU µs/req | aiohttp CPU µs/req | aiohttp / httptools | httptools req/s | aiohttp req/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        fast, ref = by.get(("httptools", mode)), by.get(("aiohttp", mode))
        if fast is None or ref is None:
            continue
        lines.append(
            f"| {mode} | {fast['cpu_us_per_req']:.1f} | {ref['cpu_us_per_req']:.1f} | "
            f"{ref['cpu_us_per_req'] / fast['cpu_us_per_req']:.2f} | {fast['req_per_s']:,.0f} | {ref['req_per_s']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=10_000, help="requests per client and mode (large: /50)"
    )
    parser.add_argument("--modes", default="small,stream,large", help="comma list of small, stream, large")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    engine = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("error: the engine stand-in did not start — check that the port is free")
                time.sleep(0.05)
        rows = []
        for mode in args.modes.split(","):
            count = args.requests // 50 if mode == "large" else args.requests
            for kind in ("httptools", "aiohttp"):
                rows.append(_run(measure(kind, mode, f"http://127.0.0.1:{port}", count)))
    finally:
        engine.terminate()
        engine.wait(5)
    print(json.dumps(rows, indent=2) if args.json else table(rows))


if __name__ == "__main__":
    main()
