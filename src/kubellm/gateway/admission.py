"""Admission control: API keys, per-key request and token rates, and concurrency with a wait queue.

Keys are kept only as SHA-256 digests and compared in constant time; logs and metrics see the key
id, never the key. Rates are token buckets (a clock is injected); tokens are charged by estimate
when a request is admitted and settled by the ``usage`` the engine reports (or refunded when the
request was not served). Concurrency slots
(global and per key) are granted in priority order from a bounded queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubellm.errors import UsageError
from kubellm.gateway.rejection import Rejection
from kubellm.spec.gateway import AdmissionConfig

Clock = Callable[[], float]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class ApiKeyStore:
    """Key id by hashed key. ``authenticate`` takes the raw bearer token and returns its key id."""

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        self._by_digest: dict[bytes, tuple[bytes, str]] = {}
        for key_id, key in (keys or {}).items():
            digest = _digest(key)
            self._by_digest[digest] = (digest, key_id)

    @property
    def enabled(self) -> bool:
        """Whether any key is configured (else the gateway is open)."""
        return bool(self._by_digest)

    def __len__(self) -> int:
        return len(self._by_digest)

    def authenticate(self, authorization: str | None) -> str:
        """The key id of an ``Authorization: Bearer <key>`` header; 401 when missing or unknown."""
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise Rejection(
                401,
                "missing API key: send 'Authorization: Bearer <key>'",
                "missing_key",
                code="invalid_api_key",
            )
        digest = _digest(authorization[7:].strip())
        entry = self._by_digest.get(digest)
        # the lookup is by digest (which leaks nothing about the key); the compare is constant-time
        if entry is None or not hmac.compare_digest(entry[0], digest):
            raise Rejection(401, "invalid API key", "invalid_key", code="invalid_api_key")
        return entry[1]

    @classmethod
    def from_file(cls, path: str | Path) -> ApiKeyStore:
        """Read ``id:key`` lines (blank lines and '#' comments skipped), as a mounted Secret holds them."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot read API keys file {path}: {exc.strerror}", "check the path and permissions"
            ) from None
        keys: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key_id, sep, key = line.partition(":")
            if not sep or not key_id.strip() or not key.strip():
                raise UsageError(
                    f"{path}:{number}: expected 'id:key'", "write one 'id:key' per line, e.g. 'alice:sk-…'"
                )
            if key_id.strip() in keys:
                raise UsageError(
                    f"{path}:{number}: key id {key_id.strip()!r} appears twice", "give each key its own id"
                )
            keys[key_id.strip()] = key.strip()
        if not keys:
            raise UsageError(f"{path}: no keys found", "write one 'id:key' per line")
        return cls(keys)


class TokenBucket:
    """``rate_per_min`` units per minute, up to a burst of one minute's worth; may go negative on usage."""

    __slots__ = ("_clock", "_level", "_stamp", "capacity", "per_s")

    def __init__(self, rate_per_min: int, clock: Clock) -> None:
        self.capacity = float(rate_per_min)
        self.per_s = rate_per_min / 60.0
        self._clock = clock
        self._level = self.capacity
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.per_s)
        self._stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 = available now)."""
        self._refill()
        need = min(amount, self.capacity) - self._level
        return 0.0 if need <= 0 else need / self.per_s

    def take(self, amount: float) -> None:
        """Charge ``amount`` (a negative amount refunds; the level never rises above the capacity)."""
        self._refill()
        self._level = min(self.capacity, self._level - amount)

    @property
    def level(self) -> float:
        """What is available now (negative after usage beyond the charge)."""
        self._refill()
        return self._level


@dataclass
class KeyState:
    """Everything the gateway tracks per key id."""

    rpm: TokenBucket | None
    tpm: TokenBucket | None
    max_concurrency: int | None
    priority: int
    in_flight: int = 0


@dataclass(order=True)
class _Waiter:
    sort_key: tuple[int, int]
    key_id: str = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class Admission:
    """Rates and concurrency for every key id (the open gateway uses the key id 'anonymous')."""

    def __init__(self, config: AdmissionConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._keys: dict[str, KeyState] = {}
        self._priorities = {c.name: c.priority for c in config.priority_classes}
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self.in_flight = 0

    @property
    def queued(self) -> int:
        """Requests waiting for a concurrency slot."""
        return len(self._waiters)

    def _state(self, key_id: str) -> KeyState:
        state = self._keys.get(key_id)
        if state is None:
            cfg = self._config
            limits = cfg.keys.get(key_id)
            rpm = (limits.requests_per_minute if limits else None) or cfg.requests_per_minute
            tpm = (limits.tokens_per_minute if limits else None) or cfg.tokens_per_minute
            conc = (limits.max_concurrency if limits else None) or cfg.max_concurrency_per_key
            klass = (limits.priority_class if limits else None) or cfg.default_priority_class
            state = KeyState(
                rpm=TokenBucket(rpm, self._clock) if rpm else None,
                tpm=TokenBucket(tpm, self._clock) if tpm else None,
                max_concurrency=conc,
                priority=self._priorities.get(klass, 0),
            )
            self._keys[key_id] = state
        return state

    def check_rates(self, key_id: str, estimated_tokens: int) -> int:
        """Charge one request and the estimate, or raise 429 with the wait in Retry-After.

        Returns the tokens charged: the estimate, but never more than the bucket holds in a minute (a
        request asking for more than a minute's worth waits for a full bucket and empties it, then is
        settled by what it used). Every charge is settled later by ``settle`` or ``refund``.
        """
        state = self._state(key_id)
        if state.rpm is not None:
            wait = state.rpm.wait_for(1)
            if wait > 0:
                raise Rejection(
                    429,
                    f"key {key_id!r} is over its requests per minute",
                    "rate_requests",
                    code="rate_limit_exceeded",
                    retry_after_s=wait,
                )
        charged = 0
        if state.tpm is not None:
            charged = int(min(estimated_tokens, state.tpm.capacity))
            wait = state.tpm.wait_for(charged)
            if wait > 0:
                raise Rejection(
                    429,
                    f"key {key_id!r} is over its tokens per minute",
                    "rate_tokens",
                    code="rate_limit_exceeded",
                    retry_after_s=wait,
                )
            state.tpm.take(charged)
        if state.rpm is not None:
            state.rpm.take(1)
        return charged

    def settle(self, key_id: str, charged_tokens: int, actual_tokens: int) -> None:
        """Replace the tokens charged at admission by the tokens the request really used."""
        state = self._keys.get(key_id)
        if state is not None and state.tpm is not None:
            state.tpm.take(actual_tokens - charged_tokens)

    def refund(self, key_id: str, charged_tokens: int, *, request: bool) -> None:
        """Give back the tokens charged (and the request itself, when ``request``): it was not served."""
        state = self._keys.get(key_id)
        if state is None:
            return
        if state.tpm is not None:
            state.tpm.take(-charged_tokens)
        if request and state.rpm is not None:
            state.rpm.take(-1)

    def _has_slot(self, state: KeyState) -> bool:
        limit = self._config.max_concurrency
        if limit is not None and self.in_flight >= limit:
            return False
        return state.max_concurrency is None or state.in_flight < state.max_concurrency

    async def acquire(self, key_id: str) -> None:
        """Take a concurrency slot, waiting in priority order; 429 when the queue is full, 503 on timeout."""
        state = self._state(key_id)
        if not self._waiters and self._has_slot(state):
            state.in_flight += 1
            self.in_flight += 1
            return
        if len(self._waiters) >= self._config.queue_size:
            raise Rejection(
                429,
                "too many requests waiting; retry shortly",
                "queue_full",
                code="rate_limit_exceeded",
                retry_after_s=1.0,
            )
        waiter = _Waiter(
            (-state.priority, next(self._seq)), key_id, asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        self._waiters.sort()
        self._wake()
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), self._config.queue_timeout_s)
        except TimeoutError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if waiter.future.done() and not waiter.future.cancelled():
                return  # granted just as the timer fired: keep the slot
            raise Rejection(
                503,
                "no capacity within the queue timeout; retry later",
                "queue_timeout",
                code="overloaded",
                retry_after_s=self._config.queue_timeout_s,
            ) from None
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled():
                self.release(key_id)  # granted, but the client left
            raise

    def release(self, key_id: str) -> None:
        """Give a slot back and grant it to the highest-priority waiter that may run."""
        state = self._keys[key_id]
        state.in_flight -= 1
        self.in_flight -= 1
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        for waiter in list(self._waiters):
            state = self._keys[waiter.key_id]
            if not self._has_slot(state):
                if (
                    self._config.max_concurrency is not None
                    and self.in_flight >= self._config.max_concurrency
                ):
                    return  # global limit reached: nobody else can run
                continue
            self._waiters.remove(waiter)
            if waiter.future.done():
                continue
            state.in_flight += 1
            self.in_flight += 1
            waiter.future.set_result(None)
