"""A small OpenAI-compatible engine for the gateway tests: deterministic answers, and faults on demand.

Answers are the same for the same request (fixed ids and timestamps), so an answer through the
gateway can be compared byte for byte with one straight from the engine.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web


class FakeEngine:
    """One engine replica on 127.0.0.1 with counters and switchable faults."""

    def __init__(
        self,
        name: str = "tiny",
        tokens: int = 8,
        delay_s: float = 0.0,
        token_delay_s: float = 0.0,
        max_output: int = 10_000,
        max_model_len: int | None = None,
    ) -> None:
        self.name = name
        self.max_output = max_output
        self.max_model_len = max_model_len  # answer 400 for longer max_tokens, as vLLM does
        self.omit_usage = False  # answer without a usage object
        self.tokens = tokens
        self.delay_s = delay_s
        self.token_delay_s = token_delay_s
        self.requests = 0
        self.in_flight = 0
        self.cancelled = 0
        self.completed = 0
        self.last_body: dict[str, Any] = {}
        self.fail_status: int | None = None  # answer this status instead
        self.fail_headers: dict[str, str] = {}  # ...with these headers (e.g. Retry-After)
        self.die_after_chunks: int | None = None  # break the connection mid-stream
        self.healthy = True
        self.waiting = 0.0
        self.kv_usage = 0.0
        self.url = ""
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_post("/v1/embeddings", self._embed)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", [])
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- handlers --------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if self.healthy else 503, text="ok" if self.healthy else "down")

    async def _metrics(self, request: web.Request) -> web.Response:
        text = (
            "# TYPE vllm:num_requests_waiting gauge\n"
            f'vllm:num_requests_waiting{{model_name="{self.name}"}} {self.waiting}\n'
            f'vllm:num_requests_running{{model_name="{self.name}"}} {self.in_flight}\n'
            f'vllm:kv_cache_usage_perc{{model_name="{self.name}"}} {self.kv_usage}\n'
        )
        return web.Response(text=text)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": self.name, "object": "model", "created": 0, "owned_by": "test"}],
            }
        )

    async def _embed(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests += 1
        self.last_body = body
        return web.json_response(
            {
                "object": "list",
                "model": body.get("model"),
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 1.0]}],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        )

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(
                {"error": {"message": "bad json", "type": "invalid_request_error"}}, status=400
            )
        if not isinstance(body, dict):
            return web.json_response(
                {"error": {"message": "not an object", "type": "invalid_request_error"}}, status=400
            )
        self.requests += 1
        self.last_body = body
        if self.fail_status is not None:
            return web.json_response(
                {"error": {"message": "induced", "type": "server_error"}},
                status=self.fail_status,
                headers=self.fail_headers,
            )
        self.in_flight += 1
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")  # vLLM's precedence
            if (
                self.max_model_len is not None
                and isinstance(max_tokens, int)
                and max_tokens > self.max_model_len
            ):
                message = f"This model's maximum context length is {self.max_model_len} tokens."
                return web.json_response(
                    {"error": {"message": message, "type": "BadRequestError", "code": 400}}, status=400
                )
            n = max_tokens if isinstance(max_tokens, int) and 0 < max_tokens < 10_000 else self.tokens
            n = min(n, self.max_output)
            chat = request.path.endswith("/chat/completions")
            if body.get("stream") is True:
                response = await self._stream(request, body, n, chat)
            else:
                response = self._whole(body, n, chat)
            self.completed += 1
            return response
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1

    def _whole(self, body: dict[str, Any], n: int, chat: bool) -> web.Response:
        text = "".join(f"t{i} " for i in range(n))
        choice: dict[str, Any] = (
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
            if chat
            else {"index": 0, "text": text, "finish_reason": "length"}
        )
        answer = {
            "id": "cmpl-fixed",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": str(body.get("model")),
            "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n},
        }
        if self.omit_usage:
            del answer["usage"]
        return web.Response(body=json.dumps(answer).encode(), content_type="application/json")

    async def _stream(
        self, request: web.Request, body: dict[str, Any], n: int, chat: bool
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        model = str(body.get("model"))
        for i in range(n):
            if self.die_after_chunks is not None and i >= self.die_after_chunks:
                assert request.transport is not None
                request.transport.abort()
                return response
            delta = (
                {"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}
                if chat
                else {"index": 0, "text": f"t{i} ", "finish_reason": None}
            )
            chunk = {
                "id": "cmpl-fixed",
                "object": "chat.completion.chunk" if chat else "text_completion",
                "created": 0,
                "model": model,
                "choices": [delta],
            }
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            usage = {
                "id": "cmpl-fixed",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n},
            }
            await response.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def static_pool(name: str, urls: list[str], **extra: Any) -> dict[str, Any]:
    """A pool config with static backends."""
    return {"name": name, "backends": {"kind": "static", "urls": urls}, **extra}
