"""The request path: admit, pick a pool and a backend, forward, relay the answer, account for it.

Retries go to another backend only while nothing has been sent to the client. Streams are relayed
chunk by chunk as the engine wrote them (no re-serialising); a stream that breaks mid-way ends with
an OpenAI-shaped error event and ``[DONE]``. A client that leaves cancels its upstream request. When
the drain deadline passes, requests still in flight are ended cleanly: a stream with an error event
and ``[DONE]``, an unanswered request with a 503 — and each is logged as cut by the deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os

from aiohttp import web

from kubellm.gateway.accounting import Accounting, Outcome, settle_rates
from kubellm.gateway.admission import Admission, ApiKeyStore
from kubellm.gateway.dispatch import Dispatcher
from kubellm.gateway.logs import AuditLog
from kubellm.gateway.metrics import GatewayMetrics
from kubellm.gateway.payload import CHARS_PER_TOKEN, ParsedRequest, cap_max_tokens, parse_request
from kubellm.gateway.pools import Pool
from kubellm.gateway.rejection import JSON_HEADERS, Rejection, error_body
from kubellm.gateway.relay import Relayed, relay_body, relay_stream, response_headers
from kubellm.gateway.routing import RouteRequest
from kubellm.gateway.upstream import UpstreamClient, UpstreamError, UpstreamResponse
from kubellm.spec.gateway import GatewayConfig

ANONYMOUS = "anonymous"
log = logging.getLogger("kubellm.gateway")


class Proxy:
    """Handles the OpenAI endpoints for one gateway."""

    def __init__(
        self,
        config: GatewayConfig,
        pools: dict[str, Pool],
        keys: ApiKeyStore,
        admission: Admission,
        metrics: GatewayMetrics,
        audit: AuditLog | None,
    ) -> None:
        self.config = config
        self.pools = pools
        self.dispatch = Dispatcher(config, pools, metrics)
        self.keys = keys
        self.admission = admission
        self.metrics = metrics
        self.client: UpstreamClient | None = None
        self.draining = False
        self.cutting = False  # the drain deadline passed: end what is still in flight
        self.in_flight = 0
        self._tasks: set[asyncio.Task[object]] = set()
        expose_urls = config.metrics.expose_backend_urls
        self.backend_label = (lambda pool, url: url) if expose_urls else self._anonymous_label
        self.accounting = Accounting(metrics, audit, self.backend_label, log_prompts=config.log_prompts)
        self._ids = itertools.count(1)
        # request ids are UUID-shaped (version 4, random per process + a counter): some engine servers
        # (llama-cpp-python's) refuse X-Request-Id values that are not UUIDs
        random_part = os.urandom(8).hex()
        self._id_prefix = f"{random_part[:8]}-{random_part[8:12]}-4{random_part[13:16]}-8{random_part[1:4]}-"
        self._retry_on = frozenset(config.retries.on_status)
        self._eject_on = frozenset(config.retries.eject_on_status)
        self._allowed_models = {
            key_id: frozenset(limits.models)
            for key_id, limits in config.admission.keys.items()
            if limits.models is not None
        }
        self._limits_on = any(
            (config.admission.requests_per_minute, config.admission.tokens_per_minute, config.admission.keys)
        )
        self._concurrency_on = bool(
            config.admission.max_concurrency
            or config.admission.max_concurrency_per_key
            or any(k.max_concurrency for k in config.admission.keys.values())
        )

    # --- the handler -----------------------------------------------------------------------------

    def _anonymous_label(self, pool: str, url: str) -> str:
        live = self.pools.get(pool)
        return live.label_of(url) if live is not None else url

    @staticmethod
    def authorization_of(request: web.BaseRequest) -> str | None:
        """The request's one Authorization header; two or more are a 400 (which one would count?)."""
        values = request.headers.getall("Authorization", ())
        if len(values) > 1:
            raise Rejection(
                400,
                "send exactly one Authorization header",
                "bad_request",
                code="invalid_request_error",
                param="Authorization",
            )
        return values[0] if values else None

    def cut_in_flight(self) -> int:
        """The drain deadline passed: end every request still in flight; returns how many."""
        self.cutting = True
        for task in list(self._tasks):
            task.cancel()
        return len(self._tasks)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/chat/completions, /v1/completions, /v1/embeddings."""
        loop_time = asyncio.get_running_loop().time
        started = loop_time()
        request_id = request.headers.get("X-Request-Id", "")
        if not (0 < len(request_id) <= 128 and request_id.isascii() and request_id.isprintable()):
            request_id = f"{self._id_prefix}{next(self._ids):012x}"
        outcome = Outcome(started=started)
        key_id = ANONYMOUS
        parsed: ParsedRequest | None = None
        charged: int | None = None  # tokens charged at admission (None: rates not checked)
        slot = False
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.in_flight += 1
        try:
            if self.draining:
                raise Rejection(
                    503,
                    "the gateway is shutting down; retry",
                    "draining",
                    code="unavailable",
                    retry_after_s=1.0,
                )
            if self.keys.enabled:
                key_id = self.keys.authenticate(self.authorization_of(request))
            raw = await self._read_body(request)
            parsed = parse_request(request.path, raw)
            pool = self.dispatch.pool_for(parsed)
            allowed = self._allowed_models.get(key_id)
            if allowed is not None and parsed.model not in allowed:
                raise Rejection(
                    403,
                    f"key {key_id!r} may not use model {parsed.model!r}",
                    "model_not_allowed",
                    code="permission_denied",
                    param="model",
                )
            rewrite = cap_max_tokens(parsed, self.config.admission.max_tokens_cap)
            if self._limits_on:
                charged = self.admission.check_rates(key_id, parsed.estimated_tokens)
            if self._concurrency_on:
                await self.admission.acquire(key_id)
                slot = True
            response = await self._forward(request, request_id, pool, parsed, raw, rewrite, outcome)
        except Rejection as rejection:
            response = self._rejected(rejection, request_id, outcome)
        except asyncio.CancelledError:
            if not self.cutting or task is None:
                outcome.status, outcome.error = 499, "client_closed"
                raise
            task.uncancel()  # ended by the drain deadline: answer instead of dropping the connection
            response = self._rejected(
                Rejection(
                    503,
                    "the gateway shut down before the answer was ready; retry",
                    "drain_deadline",
                    code="gateway_shutdown",
                    retry_after_s=1.0,
                ),
                request_id,
                outcome,
            )
        except Exception:  # the top of the request path: a bug must still answer in the OpenAI shape
            log.exception("unexpected error", extra={"request_id": request_id})
            outcome.status, outcome.error = 500, "internal_error"
            response = web.Response(
                status=500,
                body=error_body(500, "internal gateway error", "internal_error"),
                headers={**JSON_HEADERS, "X-Request-Id": request_id},
            )
        finally:
            self.in_flight -= 1
            if task is not None:
                self._tasks.discard(task)
            if slot:
                self.admission.release(key_id)
            if charged is not None and parsed is not None:
                settle_rates(self.admission, key_id, parsed, charged, outcome)
            self.accounting.record(request.path, request_id, key_id, parsed, outcome, loop_time() - started)
        return response

    def _rejected(self, rejection: Rejection, request_id: str, outcome: Outcome) -> web.Response:
        self.metrics.rejections.inc((rejection.reason,))
        outcome.status = rejection.status
        outcome.error = rejection.reason
        response = web.Response(status=rejection.status, body=rejection.body(), headers=rejection.headers())
        response.headers["X-Request-Id"] = request_id
        if rejection.status == 408:
            response.force_close()  # the unread rest of the body cannot frame the next request
        return response

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.config.admission.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise Rejection(
                413, f"request body over {limit} bytes", "body_too_large", code="request_too_large"
            )
        try:
            if request.content.is_eof():  # (all of it arrived with the head: the common case)
                return await request.read()
            async with asyncio.timeout(self.config.listen.body_timeout_s):
                return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Rejection(
                413, f"request body over {limit} bytes", "body_too_large", code="request_too_large"
            ) from None
        except TimeoutError:
            raise Rejection(
                408,
                f"the request body did not arrive within {self.config.listen.body_timeout_s:g} s",
                "body_timeout",
                code="request_timeout",
            ) from None

    async def _forward(
        self,
        request: web.Request,
        request_id: str,
        pool: Pool,
        parsed: ParsedRequest,
        raw: bytes,
        rewrite: bool,
        outcome: Outcome,
    ) -> web.StreamResponse:
        client = self.client
        assert client is not None
        route = RouteRequest(
            prefix=parsed.prefix[: pool.config.prefix_chars],
            session=request.headers.get(pool.config.session_header) or parsed.user,
        )
        headers = (("X-Request-Id", request_id),)
        tried: set[str] = set()
        attempts = self.config.retries.attempts
        for attempt in range(1, attempts + 1):
            target, url = await self.dispatch.choose(pool, route, tried)
            tried.add(url)
            outcome.pool, outcome.backend, outcome.attempts = target.name, url, attempt
            if attempt > 1:
                self.metrics.retries.inc((target.name,))
            body = raw
            if rewrite or parsed.model != target.upstream_model:
                parsed.body["model"] = target.upstream_model
                body = json.dumps(parsed.body).encode()
            stats = target.stats[url]
            stats.outstanding += 1
            try:
                try:
                    upstream = await client.post(url, request.path, body, headers, parsed.stream)
                except UpstreamError as exc:
                    self._upstream_failed(target, url, exc)
                    continue
                status = upstream.status
                if status in self._eject_on:
                    target.record_failure(url)
                if status in self._retry_on and attempt < attempts and self.dispatch.can_retry(target, tried):
                    upstream.close()
                    continue
                try:
                    return await self._relay(
                        request, request_id, target, url, upstream, parsed.stream, outcome
                    )
                finally:
                    upstream.release()
            finally:
                stats.outstanding -= 1
        raise Rejection(
            502,
            f"no backend of {pool.name!r} answered after {attempts} attempts",
            "upstream_failed",
            code="bad_gateway",
        )

    async def _relay(
        self,
        request: web.Request,
        request_id: str,
        pool: Pool,
        url: str,
        upstream: UpstreamResponse,
        stream: bool,
        outcome: Outcome,
    ) -> web.StreamResponse:
        content_type = upstream.header("content-type") or "application/json"
        headers = response_headers(upstream, content_type, request_id)
        relayed = Relayed()
        outcome.status = upstream.status
        if stream and content_type.startswith("text/event-stream"):
            clock = asyncio.get_running_loop().time
            response = await relay_stream(request, upstream, headers, relayed, clock, self._is_cutting)
            if relayed.chunks:
                self.metrics.ttft.observe((pool.name,), relayed.first_s - outcome.started)
                if relayed.chunks > 1:
                    self.metrics.itl.observe(
                        (pool.name,), (relayed.last_s - relayed.first_s) / (relayed.chunks - 1)
                    )
        else:
            try:
                response = await relay_body(request, upstream, headers, relayed, self._is_cutting)
            except UpstreamError as exc:
                self._upstream_failed(pool, url, exc)
                raise Rejection(
                    502, "the backend failed while answering", "upstream_failed", code="bad_gateway"
                ) from None
        if relayed.upstream_failed:
            pool.record_failure(url)
        elif not relayed.error and upstream.status not in self._eject_on:
            pool.record_success(url)
        if relayed.error == "client_closed":
            outcome.status = 499
        outcome.error = relayed.error
        if relayed.usage is not None:
            outcome.prompt_tokens, outcome.completion_tokens = relayed.usage
            outcome.usage_seen = True
        elif stream:
            outcome.observed_completion = max(0, relayed.events - 1)  # all but [DONE]
        else:
            outcome.observed_completion = relayed.body_bytes // CHARS_PER_TOKEN
        return response

    def _is_cutting(self) -> bool:
        return self.cutting

    def _upstream_failed(self, pool: Pool, url: str, error: UpstreamError) -> None:
        if error.kind == "local":  # this process is out of file descriptors: not the engine's fault
            log.error(
                "cannot open a connection to an engine: %s — raise the open-file limit (ulimit -n) or "
                "lower listen.max_connections",
                error,
                extra={"pool": pool.name},
            )
            return
        pool.record_failure(url)
