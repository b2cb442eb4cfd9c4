"""A small OpenAI-style streaming server with exactly known timing, for the bench tests and benchmarks.

Token k of a response (k = 0…N−1, N = the request's max_tokens, capped by --max-output) is written at
``t_received + ttft + k·itl`` on an absolute schedule, so delays do not drift. Each token is one word.
With ``--ttft-ms 0 --itl-ms 0`` the whole stream goes out in one write (the cheapest possible server).

Behaviour chosen by the requested model name, so one process serves every test case:
``fake`` (or ``fake-model``) normal · ``role-first`` an empty role-only chunk before the content · ``fail-500`` HTTP 500 ·
``malformed`` a non-JSON data line · ``no-done`` ends without ``[DONE]`` · ``no-usage`` no usage chunk.
``GET /stats`` reports the mean TTFT and gap the server actually produced (``POST /stats`` resets),
so a test can tell the client's error from a busy machine's. ``--api-key K`` makes every endpoint answer 401 without ``Authorization: Bearer K``.
Binds to 127.0.0.1 only. The idea follows the fake upstream of the peer harness
(shared/peer-bench/bench/fake_upstream.py); the code is separate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from aiohttp import web

MODELS = ("fake", "fake-model", "role-first", "fail-500", "malformed", "no-done", "no-usage")


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class FakeServer:
    def __init__(self, ttft_ms: float, itl_ms: float, max_output: int, api_key: str | None) -> None:
        self.ttft = ttft_ms / 1000.0
        self.itl = itl_ms / 1000.0
        self.max_output = max_output
        self.api_key = api_key
        self.served = 0
        # What the server actually did (its writes can run late when the machine is busy).
        self.ttfts_s: list[float] = []
        self.gaps_s: list[float] = []

    def _authorized(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "invalid API key"}}, status=401)
        return web.json_response({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})

    async def stats(self, request: web.Request) -> web.Response:
        """Mean TTFT and inter-chunk gap the server actually produced (ms); POST resets them."""
        if request.method == "POST":
            self.ttfts_s.clear()
            self.gaps_s.clear()

        def mean_ms(values: list[float]) -> float | None:
            return 1000 * sum(values) / len(values) if values else None

        return web.json_response(
            {
                "ttft_mean_ms": mean_ms(self.ttfts_s),
                "itl_mean_ms": mean_ms(self.gaps_s),
                "requests": len(self.ttfts_s),
            }
        )

    async def complete(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        if not self._authorized(request):
            return web.json_response({"error": {"message": "invalid API key"}}, status=401)
        body = await request.json()
        model = body.get("model")
        if model not in MODELS:
            return web.json_response(
                {"error": {"message": f"The model `{model}` does not exist."}}, status=404
            )
        if model == "fail-500":
            return web.json_response({"error": {"message": "engine crashed"}}, status=500)
        chat = request.path.endswith("/chat/completions")
        n = min(int(body.get("max_tokens") or self.max_output), self.max_output)
        self.served += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        kind = "chat.completion.chunk" if chat else "text_completion"

        def chunk(k: int) -> bytes:
            word = f"tok{k} "
            choice: dict[str, Any] = {"index": 0, "finish_reason": "length" if k == n - 1 else None}
            if chat:
                choice["delta"] = {"content": word}
            else:
                choice["text"] = word
            return _event({"id": "x", "object": kind, "model": model, "choices": [choice]})

        head = b""
        if model == "role-first" and chat:
            head = _event(
                {"object": kind, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
            )
        tail = b""
        if model != "no-usage" and (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 4, "completion_tokens": n, "total_tokens": 4 + n}
            tail += _event({"object": kind, "choices": [], "usage": usage})
        if model != "no-done":
            tail += b"data: [DONE]\n\n"
        if model == "malformed":
            await resp.write(chunk(0) + b"data: {this is not json\n\n")
            await resp.write_eof()
            return resp
        if self.ttft <= 0 and self.itl <= 0:
            await resp.write(head + b"".join(chunk(k) for k in range(n)) + tail)
        else:
            if head:
                await resp.write(head)
            last = 0.0
            for k in range(n):
                delay = t0 + self.ttft + k * self.itl - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = time.perf_counter()
                if k == 0:
                    self.ttfts_s.append(now - t0)
                else:
                    self.gaps_s.append(now - last)
                last = now
                await resp.write(chunk(k))
            await resp.write(tail)
        await resp.write_eof()
        return resp


def build_app(server: FakeServer) -> web.Application:
    app = web.Application()
    app.add_routes(
        [
            web.get("/v1/models", server.models),
            web.get("/stats", server.stats),
            web.post("/stats", server.stats),
            web.post("/v1/chat/completions", server.complete),
            web.post("/v1/completions", server.complete),
        ]
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port; the port is printed")
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument("--max-output", type=int, default=64)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", default=None, help="private key of --tls-cert (PEM)")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    server = FakeServer(args.ttft_ms, args.itl_ms, args.max_output, args.api_key)

    async def serve() -> None:
        runner = web.AppRunner(build_app(server), access_log=None)
        await runner.setup()
        ssl_context = None
        if args.tls_cert:
            import ssl

            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096, ssl_context=ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"PORT {port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
