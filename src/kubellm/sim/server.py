"""The HTTP face of the simulator: vLLM's OpenAI-compatible routes on aiohttp.

Routes: ``GET /health``, ``GET /version``, ``GET /metrics``, ``GET /v1/models``, ``POST /v1/completions``
and ``POST /v1/chat/completions`` (JSON or SSE with ``stream_options.include_usage``). Like vLLM,
``--api-key`` guards the ``/v1`` routes only and answers 401 ``{"error": "Unauthorized"}``; without it
any bearer key (or none) is accepted. Every refusal is OpenAI-shaped JSON, never a bare 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from kubellm import __version__
from kubellm.sim.engine import RealTimeEngine, StreamHandle
from kubellm.sim.filler import WORDS
from kubellm.sim.protocol import ApiError, GenerationRequest, error_body, parse_request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ENGINE_KEY: web.AppKey[RealTimeEngine] = web.AppKey("engine", RealTimeEngine)
_WORDS_JSON = tuple(json.dumps(w).encode() for w in WORDS)
_DONE = b"data: [DONE]\n\n"


def create_app(engine: RealTimeEngine, *, api_key: str | None = None) -> web.Application:
    """The aiohttp application; the engine loop starts and stops with it."""
    app = web.Application(
        middlewares=[_errors_middleware, _auth_middleware(api_key)], client_max_size=64 * 2**20
    )
    app[ENGINE_KEY] = engine
    routes = _Routes(engine)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/version", routes.version)
    app.router.add_get("/metrics", routes.metrics)
    app.router.add_get("/v1/models", routes.models)
    app.router.add_post("/v1/completions", routes.completions)
    app.router.add_post("/v1/chat/completions", routes.chat_completions)

    async def _start(_: web.Application) -> None:
        engine.start()

    async def _stop(_: web.Application) -> None:
        await engine.stop()

    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


def _json_error(
    status: int, message: str, param: str | None = None, err_type: str | None = None
) -> web.Response:
    return web.json_response(error_body(status, message, param, err_type), status=status)


@web.middleware
async def _errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.body(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _json_error(exc.status, exc.reason)


def _auth_middleware(api_key: str | None) -> Middleware:
    expected = f"Bearer {api_key}".encode() if api_key else None

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is not None and request.path.startswith("/v1"):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.json_response({"error": "Unauthorized"}, status=401)
        return await handler(request)

    return auth


class _Routes:
    def __init__(self, engine: RealTimeEngine) -> None:
        self.engine = engine
        self.config = engine.core.config
        self.created = int(time.time())

    async def health(self, _: web.Request) -> web.Response:
        return web.Response(status=200)

    async def version(self, _: web.Request) -> web.Response:
        return web.json_response({"version": f"kubellm-sim {__version__}"})

    async def metrics(self, _: web.Request) -> web.Response:
        return web.Response(text=self.engine.render_metrics(), content_type="text/plain", charset="utf-8")

    async def models(self, _: web.Request) -> web.Response:
        cfg = self.config
        card = {
            "id": cfg.served_model_name,
            "object": "model",
            "created": self.created,
            "owned_by": "vllm",
            "root": cfg.model_root or cfg.served_model_name,
            "parent": None,
            "max_model_len": cfg.max_model_len,
            "permission": [],
        }
        return web.json_response({"object": "list", "data": [card]})

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=False)

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=True)

    async def _generate(self, request: web.Request, *, chat: bool) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"The request body is not valid JSON: {exc}") from exc
        cfg = self.config
        req = parse_request(
            body,
            chat=chat,
            served_model_name=cfg.served_model_name,
            max_model_len=cfg.max_model_len,
            want_token_ids=cfg.prefix_caching,
        )
        handle = self.engine.submit(
            req.prompt_tokens,
            req.max_tokens,
            token_ids=req.token_ids,
            ignore_eos=req.ignore_eos,
            max_tokens_given=req.max_tokens_given,
        )
        request_id = ("chatcmpl-" if chat else "cmpl-") + secrets.token_hex(16)
        try:
            if req.stream:
                return await self._stream(request, req, handle, request_id)
            return await self._complete(req, handle, request_id)
        except asyncio.CancelledError:
            self.engine.abort(handle)
            raise

    async def _complete(self, req: GenerationRequest, handle: StreamHandle, request_id: str) -> web.Response:
        while await self.engine.next_tokens(handle):
            pass
        text = _text(0, handle.taken, self.config.seed)
        finish = handle.request.finish_reason or "length"
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish, "stop_reason": None}
        if req.chat:
            choice["message"] = {"role": "assistant", "content": text, "tool_calls": []}
        else:
            choice["text"] = text
        payload = {
            "id": request_id,
            "object": "chat.completion" if req.chat else "text_completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [choice],
            "usage": _usage(req.prompt_tokens, handle.taken),
        }
        return web.json_response(payload)

    async def _stream(
        self, request: web.Request, req: GenerationRequest, handle: StreamHandle, request_id: str
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        created = int(time.time())
        model_json = json.dumps(req.model)
        obj = "chat.completion.chunk" if req.chat else "text_completion"
        head = f'data: {{"id":"{request_id}","object":"{obj}","created":{created},"model":{model_json},"choices":['.encode()
        if req.chat:
            piece_head = head + b'{"index":0,"delta":{"content":'
            piece_mid = b'},"logprobs":null,"finish_reason":'
        else:
            piece_head = head + b'{"index":0,"text":'
            piece_mid = b',"logprobs":null,"finish_reason":'
        seed = self.config.seed
        n_words = len(_WORDS_JSON)
        sent = 0
        # like vLLM, the assistant-role chunk goes out with the first output, not before
        role = (
            head
            + b'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
        )
        try:
            while True:
                n = await self.engine.next_tokens(handle)
                if n == 0:
                    break
                parts: list[bytes] = [role] if req.chat and sent == 0 else []
                last = handle.done and handle.pending == 0
                for i in range(sent, sent + n):
                    finish = b"null"
                    if last and i == sent + n - 1:
                        finish = json.dumps(handle.request.finish_reason or "length").encode()
                    chunk = (
                        piece_head
                        + _WORDS_JSON[(seed + i) % n_words]
                        + piece_mid
                        + finish
                        + b',"stop_reason":null}]'
                    )
                    if req.continuous_usage:
                        chunk += b',"usage":' + json.dumps(_usage(req.prompt_tokens, i + 1)).encode()
                    parts.append(chunk + b"}\n\n")
                sent += n
                await resp.write(b"".join(parts))
            if req.include_usage:
                usage = json.dumps(_usage(req.prompt_tokens, sent)).encode()
                await resp.write(head + b'],"usage":' + usage + b"}\n\n")
            await resp.write(_DONE)
            await resp.write_eof()
        except ConnectionResetError:
            self.engine.abort(handle)
        return resp


def _text(start: int, count: int, seed: int) -> str:
    n = len(WORDS)
    return "".join(WORDS[(seed + i) % n] for i in range(start, start + count))


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }
