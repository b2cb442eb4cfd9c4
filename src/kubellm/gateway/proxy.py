"""The request path: admit, pick a pool and a backend, forward, relay the answer, account for it.

Retries go to another backend only while nothing has been sent to the client. Streams are relayed
chunk by chunk as the engine wrote them (no re-serialising); a stream that breaks mid-way ends with
an OpenAI-shaped error event and ``[DONE]``. A client that leaves cancels its upstream request.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubellm.gateway.admission import Admission, ApiKeyStore
from kubellm.gateway.logs import AuditLog
from kubellm.gateway.metrics import GatewayMetrics
from kubellm.gateway.payload import CHARS_PER_TOKEN, ParsedRequest, cap_max_tokens, parse_request
from kubellm.gateway.pools import Pool
from kubellm.gateway.rejection import Rejection, error_body
from kubellm.gateway.relay import Relayed, relay_body, relay_stream, response_headers
from kubellm.gateway.routing import RouteRequest
from kubellm.gateway.upstream import UpstreamClient, UpstreamError, UpstreamResponse
from kubellm.spec.gateway import GatewayConfig

ANONYMOUS = "anonymous"
log = logging.getLogger("kubellm.gateway")


@dataclass(slots=True)
class Outcome:
    """What happened to one request, for metrics and the audit line."""

    status: int = 0
    pool: str = ""
    backend: str = ""
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_seen: bool = False
    observed_completion: int = 0  # completion tokens as far as the gateway could see (no usage reported)
    error: str = ""
    started: float = 0.0


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
        self.by_model = {name: pool for pool in pools.values() for name in (pool.name, *pool.config.aliases)}
        self.keys = keys
        self.admission = admission
        self.metrics = metrics
        self.audit = audit
        self.client: UpstreamClient | None = None
        self.draining = False
        self.in_flight = 0
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
                key_id = self.keys.authenticate(request.headers.get("Authorization"))
            raw = await self._read_body(request)
            parsed = parse_request(request.path, raw)
            pool = self._pool_for(parsed)
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
            self.metrics.rejections.inc((rejection.reason,))
            outcome.status = rejection.status
            outcome.error = rejection.reason
            response = web.Response(
                status=rejection.status, body=rejection.body(), headers=rejection.headers()
            )
            response.headers["X-Request-Id"] = request_id
        except asyncio.CancelledError:
            outcome.status = 499
            outcome.error = "client_closed"
            raise
        except Exception:  # the top of the request path: a bug must still answer in the OpenAI shape
            log.exception("unexpected error", extra={"request_id": request_id})
            outcome.status, outcome.error = 500, "internal_error"
            response = web.Response(
                status=500,
                body=error_body(500, "internal gateway error", "internal_error"),
                headers={"Content-Type": "application/json", "X-Request-Id": request_id},
            )
        finally:
            self.in_flight -= 1
            if slot:
                self.admission.release(key_id)
            if charged is not None and parsed is not None:
                self._settle(key_id, parsed, charged, outcome)
            self._account(request, request_id, key_id, parsed, outcome, loop_time() - started)
        return response

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.config.admission.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise Rejection(
                413, f"request body over {limit} bytes", "body_too_large", code="request_too_large"
            )
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Rejection(
                413, f"request body over {limit} bytes", "body_too_large", code="request_too_large"
            ) from None

    def _pool_for(self, parsed: ParsedRequest) -> Pool:
        pool = self.by_model.get(parsed.model)
        if pool is None:
            raise Rejection(
                404,
                f"model {parsed.model!r} is not served here; GET /v1/models lists the models",
                "unknown_model",
                code="model_not_found",
                param="model",
            )
        limit = self.config.admission.max_prompt_tokens
        if limit is not None and parsed.prompt_tokens > limit:
            raise Rejection(
                400,
                f"prompt of about {parsed.prompt_tokens} tokens is over the limit of {limit}",
                "prompt_too_long",
                code="context_length_exceeded",
                param="messages",
            )
        long_context = pool.config.long_context
        if long_context is not None and pool.long_context is not None:
            wanted = parsed.prompt_tokens + (parsed.max_tokens or 0)
            if wanted > long_context.threshold_tokens:
                return pool.long_context
        return pool

    async def _choose(self, pool: Pool, route: RouteRequest, tried: set[str]) -> tuple[Pool, str]:
        url = pool.pick(route, tried)
        fallback = pool.fallback
        if fallback is not None and (url is None or pool.saturated()):
            spill = fallback.pick(route, tried)
            if spill is not None and not fallback.saturated():
                self.metrics.spills.inc((pool.name, fallback.name))
                return fallback, spill
        if url is not None:
            return pool, url
        if tried:
            raise Rejection(502, "every backend tried failed", "upstream_failed", code="bad_gateway")
        if not pool.holds_when_empty:
            wait_s = pool.next_readmission_s()
            raise Rejection(
                503,
                f"no backend of {pool.name!r} is available; retry later",
                "no_backend",
                code="unavailable",
                retry_after_s=wait_s if wait_s is not None else self.config.health_checks.interval_s,
            )
        timeout_s = pool.config.cold_start_timeout_s or self.config.cold_start_timeout_s
        if not await pool.wait_ready(timeout_s):
            raise Rejection(
                503,
                f"no backend of {pool.name!r} became ready within {timeout_s:g} s",
                "no_backend",
                code="unavailable",
                retry_after_s=10.0,
            )
        url = pool.pick(route, tried)
        if url is None:
            raise Rejection(
                503,
                f"no backend of {pool.name!r} is ready",
                "no_backend",
                code="unavailable",
                retry_after_s=10.0,
            )
        return pool, url

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
            target, url = await self._choose(pool, route, tried)
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
                if status in self._retry_on and attempt < attempts and self._can_retry(target, tried):
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
            response = await relay_stream(request, upstream, headers, relayed, clock)
            if relayed.chunks:
                self.metrics.ttft.observe((pool.name,), relayed.first_s - outcome.started)
                if relayed.chunks > 1:
                    self.metrics.itl.observe(
                        (pool.name,), (relayed.last_s - relayed.first_s) / (relayed.chunks - 1)
                    )
        else:
            try:
                response = await relay_body(request, upstream, headers, relayed)
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

    def _can_retry(self, pool: Pool, tried: set[str]) -> bool:
        """Whether another backend (of the pool or its fallback) could take a retry."""
        fallback = pool.fallback
        return any(url not in tried for url in pool.available) or (
            fallback is not None and any(url not in tried for url in fallback.available)
        )

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

    # --- accounting ------------------------------------------------------------------------------

    def _settle(self, key_id: str, parsed: ParsedRequest, charged: int, outcome: Outcome) -> None:
        """Settle the rates charged at admission by what happened to the request.

        Never reached an engine (queue full, no backend…): the request and its tokens are given back.
        The engine reported usage: tokens are settled by it. The engine failed: the tokens are given
        back (the request stays counted). Served without usage, or the client left: the prompt estimate
        plus the completion the gateway saw (stream events, or body bytes at four a token).
        """
        if outcome.attempts == 0:
            self.admission.refund(key_id, charged, request=True)
        elif outcome.usage_seen:
            self.admission.settle(key_id, charged, outcome.prompt_tokens + outcome.completion_tokens)
        elif outcome.status >= 400 and outcome.status != 499:
            self.admission.refund(key_id, charged, request=False)
        else:
            seen = min(outcome.observed_completion, parsed.completion_estimate)
            self.admission.settle(key_id, charged, parsed.prompt_tokens + seen)

    def _account(
        self,
        request: web.Request,
        request_id: str,
        key_id: str,
        parsed: ParsedRequest | None,
        outcome: Outcome,
        elapsed_s: float,
    ) -> None:
        metrics = self.metrics
        status = outcome.status
        metrics.requests.inc((outcome.pool, outcome.backend, str(status)))
        if outcome.pool and status and status < 500:
            metrics.e2e.observe((outcome.pool,), elapsed_s)
        if outcome.prompt_tokens or outcome.completion_tokens:
            metrics.tokens.inc((key_id, "in"), outcome.prompt_tokens)
            metrics.tokens.inc((key_id, "out"), outcome.completion_tokens)
        if self.audit is None:
            return
        record: dict[str, Any] = {
            "time": round(time.time(), 3),
            "request_id": request_id,
            "key": key_id,
            "path": request.path,
            "model": parsed.model if parsed else None,
            "pool": outcome.pool or None,
            "backend": outcome.backend or None,
            "status": status,
            "attempts": outcome.attempts,
            "prompt_tokens": outcome.prompt_tokens,
            "completion_tokens": outcome.completion_tokens,
            "latency_ms": round(elapsed_s * 1000, 3),
        }
        if outcome.error:
            record["error"] = outcome.error
        if parsed is not None and self.config.log_prompts:
            record["prompt"] = parsed.prefix
        self.audit.write(record)
