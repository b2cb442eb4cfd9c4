"""After a request: settle its rate charges, count it in the metrics, write its audit line.

Settling (``settle_rates``) is where the limits are made to hold: what was charged by estimate at
admission is replaced by what the request used, given back when it was not served, and never left
charged for an answer the engine refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubellm.gateway.admission import Admission
from kubellm.gateway.logs import AuditLog
from kubellm.gateway.metrics import GatewayMetrics
from kubellm.gateway.payload import ParsedRequest


@dataclass(slots=True)
class Outcome:
    """What happened to one request, for the rates, the metrics and the audit line."""

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


def settle_rates(
    admission: Admission, key_id: str, parsed: ParsedRequest, charged: int, outcome: Outcome
) -> None:
    """Settle the rates charged at admission by what happened to the request.

    Never reached an engine (queue full, no backend…): the request and its tokens are given back.
    The engine reported usage: tokens are settled by it. The engine failed: the tokens are given
    back (the request stays counted). Served without usage, or the client left: the prompt estimate
    plus the completion the gateway saw (stream events, or body bytes at four a token).
    """
    if outcome.attempts == 0:
        admission.refund(key_id, charged, request=True)
    elif outcome.usage_seen:
        admission.settle(key_id, charged, outcome.prompt_tokens + outcome.completion_tokens)
    elif outcome.status >= 400 and outcome.status != 499:
        admission.refund(key_id, charged, request=False)
    else:
        seen = min(outcome.observed_completion, parsed.completion_estimate)
        admission.settle(key_id, charged, parsed.prompt_tokens + seen)


class Accounting:
    """Metrics and the audit line of each finished request."""

    def __init__(
        self,
        metrics: GatewayMetrics,
        audit: AuditLog | None,
        backend_label: Callable[[str, str], str],
        *,
        log_prompts: bool,
    ) -> None:
        self.metrics = metrics
        self.audit = audit
        self.backend_label = backend_label
        self.log_prompts = log_prompts

    def record(
        self,
        path: str,
        request_id: str,
        key_id: str,
        parsed: ParsedRequest | None,
        outcome: Outcome,
        elapsed_s: float,
    ) -> None:
        metrics = self.metrics
        status = outcome.status
        backend = self.backend_label(outcome.pool, outcome.backend) if outcome.backend else ""
        metrics.requests.inc((outcome.pool, backend, str(status)))
        if outcome.pool and status and status < 500:
            metrics.e2e.observe((outcome.pool,), elapsed_s)
        if outcome.prompt_tokens or outcome.completion_tokens:
            metrics.count_tokens(key_id, outcome.prompt_tokens, outcome.completion_tokens)
        if self.audit is None:
            return
        record: dict[str, Any] = {
            "time": round(time.time(), 3),
            "request_id": request_id,
            "key": key_id,
            "path": path,
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
        if parsed is not None and self.log_prompts:
            record["prompt"] = parsed.prefix
        self.audit.write(record)
