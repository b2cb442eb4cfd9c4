"""The gateway's HTTP surface: which paths answer which methods, and the small endpoints.

Every known path answers other methods with 405 and an ``Allow`` header; unknown paths get an
OpenAI-shaped 404. ``Expect: 100-continue`` is answered only after the key and the announced body
size passed. CORS headers are added only when configured. ``/metrics`` can sit behind a bearer
token, or on its own port (then the main listener does not serve it).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from kubellm.gateway import cors
from kubellm.gateway.admission import ApiKeyStore
from kubellm.gateway.metrics import GatewayMetrics
from kubellm.gateway.pools import Pool
from kubellm.gateway.proxy import Proxy
from kubellm.gateway.rejection import JSON_HEADERS, SERVER_NAME, Rejection, error_body
from kubellm.spec.gateway import GatewayConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPENAI_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")


def _method_not_allowed(allow: str, preflight: Handler | None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if preflight is not None and request.method == "OPTIONS":
            return await preflight(request)
        message = f"{request.method} is not allowed on {request.path}; use {allow}"
        headers = {**JSON_HEADERS, "Allow": allow}
        return web.Response(status=405, body=error_body(405, message, "method_not_allowed"), headers=headers)

    return handler


class HttpSurface:
    """Builds the aiohttp applications of one gateway."""

    def __init__(
        self,
        config: GatewayConfig,
        keys: ApiKeyStore,
        pools: dict[str, Pool],
        proxy: Proxy,
        metrics: GatewayMetrics,
        is_started: Callable[[], bool],
    ) -> None:
        self.config = config
        self.keys = keys
        self.pools = pools
        self.proxy = proxy
        self.metrics = metrics
        self.is_started = is_started

    def app(self) -> web.Application:
        """The main application (with /metrics unless it has a port of its own)."""
        app = web.Application(client_max_size=self.config.admission.max_body_bytes)
        preflight = self._preflight if self.config.cors is not None else None
        for path in OPENAI_PATHS:
            app.router.add_post(path, self.proxy.handle, expect_handler=self._expect)
            app.router.add_route("*", path, _method_not_allowed("POST", preflight))
        gets: dict[str, Handler] = {
            "/v1/models": self._models,
            "/health": self._health,
            "/ready": self._ready,
        }
        if self.config.metrics.port is None:
            gets["/metrics"] = self._metrics
        for path, handler in gets.items():
            app.router.add_get(path, handler)
            app.router.add_route("*", path, _method_not_allowed("GET, HEAD", preflight))
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        if self.config.cors is not None:
            app.on_response_prepare.append(self._add_cors)
        return app

    def metrics_app(self) -> web.Application:
        """The application of the separate metrics port: /metrics only."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_route("*", "/metrics", _method_not_allowed("GET, HEAD", None))
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    # --- admission before the body -----------------------------------------------------------------

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue``: the key and the announced size first, then "100 Continue"."""
        try:
            if self.keys.enabled:
                self.keys.authenticate(self.proxy.authorization_of(request))
            limit = self.config.admission.max_body_bytes
            if request.content_length is not None and request.content_length > limit:
                raise Rejection(
                    413, f"request body over {limit} bytes", "body_too_large", code="request_too_large"
                )
        except Rejection as rejection:
            self.metrics.rejections.inc((rejection.reason,))
            response = web.Response(
                status=rejection.status, body=rejection.body(), headers=rejection.headers()
            )
            response.force_close()  # the client may send the body anyway: do not read it as a request
            return response
        if request.headers.get("Expect", "").lower() != "100-continue":
            return web.Response(
                status=417,
                body=error_body(417, "only 'Expect: 100-continue' is understood", "bad_request"),
                headers=JSON_HEADERS,
            )
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0
        return None

    # --- endpoints ---------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        if self.keys.enabled:
            try:
                self.keys.authenticate(self.proxy.authorization_of(request))
            except Rejection as rejection:
                self.metrics.rejections.inc((rejection.reason,))
                return web.Response(
                    status=rejection.status, body=rejection.body(), headers=rejection.headers()
                )
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
        return web.Response(body=json.dumps({"object": "list", "data": data}).encode(), headers=JSON_HEADERS)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', headers=JSON_HEADERS)

    async def _ready(self, request: web.Request) -> web.Response:
        if self.is_started() and not self.proxy.draining:
            return web.Response(body=b'{"status":"ready"}', headers=JSON_HEADERS)
        state = b"draining" if self.proxy.draining else b"starting"
        return web.Response(status=503, body=b'{"status":"' + state + b'"}', headers=JSON_HEADERS)

    async def _metrics(self, request: web.Request) -> web.Response:
        token_file = self.config.metrics.bearer_token_file
        if token_file is not None:
            expected = (
                "Bearer " + Path(token_file).read_text(encoding="utf-8").strip()
            )  # re-read: it may rotate
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                message = "metrics need 'Authorization: Bearer <token>' with the metrics token"
                return web.Response(
                    status=401, body=error_body(401, message, "invalid_api_key"), headers=JSON_HEADERS
                )
        return web.Response(
            text=self.metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Server": SERVER_NAME},
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        message = f"no route for {request.method} {request.path}"
        return web.Response(status=404, body=error_body(404, message, "not_found"), headers=JSON_HEADERS)

    # --- CORS ---------------------------------------------------------------------------------------

    async def _preflight(self, request: web.Request) -> web.StreamResponse:
        assert self.config.cors is not None
        headers = cors.preflight_headers(
            self.config.cors,
            request.headers.get("Origin"),
            request.headers.get("Access-Control-Request-Method"),
            request.headers.get("Access-Control-Request-Headers"),
        )
        if headers is None:
            return web.Response(
                status=403,
                body=error_body(403, "cross-origin request not allowed", "cors_refused"),
                headers=JSON_HEADERS,
            )
        return web.Response(status=204, headers={**headers, "Server": SERVER_NAME})

    async def _add_cors(self, request: web.Request, response: web.StreamResponse) -> None:
        assert self.config.cors is not None
        if request.method != "OPTIONS":
            response.headers.update(cors.answer_headers(self.config.cors, request.headers.get("Origin")))
