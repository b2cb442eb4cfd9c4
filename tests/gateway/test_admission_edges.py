"""Admission at its edges: every rejection as the client sees it (status, reason, code, Retry-After,
message), per-key overrides, the counters behind concurrency slots, waiters that time out or leave,
and the keys file's errors with their line numbers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubellm.errors import UsageError
from kubellm.gateway.admission import Admission, ApiKeyStore
from kubellm.gateway.rejection import Rejection
from kubellm.spec.gateway import AdmissionConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _config(**fields: object) -> AdmissionConfig:
    return AdmissionConfig.model_validate(fields)


def _rejection(call: object) -> Rejection:
    with pytest.raises(Rejection) as err:
        call()  # type: ignore[operator]
    return err.value


async def _settle() -> None:
    """Let granted waiters run (a grant reaches its task a few loop turns later)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def _rejection_async(awaitable: object) -> Rejection:
    with pytest.raises(Rejection) as err:
        await awaitable  # type: ignore[misc]
    return err.value


# --- API keys ------------------------------------------------------------------------------------


def test_a_missing_key_is_told_how_to_send_one() -> None:
    store = ApiKeyStore({"alice": "sk-a"})
    for header in (None, "", "Basic c2stYQ==", "Bearer"):
        err = _rejection(lambda header=header: store.authenticate(header))
        assert (err.status, err.reason, err.code) == (401, "missing_key", "invalid_api_key")
        assert err.message == "missing API key: send 'Authorization: Bearer <key>'"


def test_an_unknown_key_is_invalid() -> None:
    store = ApiKeyStore({"alice": "sk-a"})
    for header in ("Bearer sk-b", "Bearer ", "BEARER sk-a2"):
        err = _rejection(lambda header=header: store.authenticate(header))
        assert (err.status, err.reason, err.code, err.message) == (
            401,
            "invalid_key",
            "invalid_api_key",
            "invalid API key",
        )


def test_the_bearer_scheme_is_case_insensitive_and_the_key_is_trimmed() -> None:
    store = ApiKeyStore({"alice": "sk-a"})
    assert store.authenticate("BEARER   sk-a  ") == "alice"


def test_a_key_with_undecodable_bytes_is_a_401_not_a_crash() -> None:
    # aiohttp decodes header bytes that are not UTF-8 as lone surrogates.
    store = ApiKeyStore({"alice": "sk-a"})
    err = _rejection(lambda: store.authenticate("Bearer sk-\udcff"))
    assert err.status == 401 and err.reason == "invalid_key"


def test_an_open_gateway_has_no_keys() -> None:
    assert not ApiKeyStore().enabled and len(ApiKeyStore()) == 0
    assert ApiKeyStore({"a": "1", "b": "2"}).enabled and len(ApiKeyStore({"a": "1", "b": "2"})) == 2


@pytest.mark.parametrize(
    ("text", "what", "fix"),
    [
        (
            "alice:sk-a\nno-colon\n",
            "{path}:2: expected 'id:key'",
            "write one 'id:key' per line, e.g. 'alice:sk-…'",
        ),
        (
            "alice:sk-a\n\n# c\nalice:sk-b\n",
            "{path}:4: key id 'alice' appears twice",
            "give each key its own id",
        ),
        ("\n# nothing\n", "{path}: no keys found", "write one 'id:key' per line"),
    ],
)
def test_keys_file_errors_name_the_line_and_the_fix(tmp_path: Path, text: str, what: str, fix: str) -> None:
    path = tmp_path / "keys"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        ApiKeyStore.from_file(path)
    assert err.value.what == what.format(path=path) and err.value.fix == fix


def test_an_unreadable_keys_file_says_what_to_check(tmp_path: Path) -> None:
    path = tmp_path / "missing"
    with pytest.raises(UsageError) as err:
        ApiKeyStore.from_file(path)
    assert err.value.what == f"cannot read API keys file {path}: No such file or directory"
    assert err.value.fix == "check the path and permissions"


def test_keys_files_are_utf8(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_bytes("zoë:sk-é\n".encode())
    assert ApiKeyStore.from_file(path).authenticate("Bearer sk-é") == "zoë"


# --- rates ---------------------------------------------------------------------------------------


def test_rate_rejections_as_the_client_sees_them() -> None:
    clock = FakeClock()
    admission = Admission(_config(requests_per_minute=1, tokens_per_minute=100), clock)
    admission.check_rates("alice", 10)
    err = _rejection(lambda: admission.check_rates("alice", 10))
    assert (err.status, err.reason, err.code) == (429, "rate_requests", "rate_limit_exceeded")
    assert err.message == "key 'alice' is over its requests per minute"
    assert err.retry_after_s == pytest.approx(60.0)
    other = Admission(_config(tokens_per_minute=100), clock)
    other.check_rates("bob", 100)
    err = _rejection(lambda: other.check_rates("bob", 30))
    assert (err.status, err.reason, err.code) == (429, "rate_tokens", "rate_limit_exceeded")
    assert err.message == "key 'bob' is over its tokens per minute"
    assert err.retry_after_s == pytest.approx(18.0)


def test_a_request_less_than_a_second_early_is_still_rejected() -> None:
    clock = FakeClock()
    admission = Admission(_config(requests_per_minute=120), clock)
    for _ in range(120):
        admission.check_rates("k", 0)
    err = _rejection(lambda: admission.check_rates("k", 0))
    assert err.retry_after_s == pytest.approx(0.5)
    clock.now += 0.5
    admission.check_rates("k", 0)


def test_without_a_token_limit_nothing_is_charged() -> None:
    admission = Admission(_config(requests_per_minute=10), FakeClock())
    assert admission.check_rates("k", 5000) == 0
    admission.settle("k", 0, 9000)  # no token bucket to settle: nothing happens
    admission.settle("never-seen", 10, 20)


def test_per_key_token_limits_override_the_default() -> None:
    admission = Admission(
        _config(tokens_per_minute=10, keys={"vip": {"tokens_per_minute": 1000}}), FakeClock()
    )
    assert admission.check_rates("vip", 500) == 500
    assert admission.check_rates("other", 500) == 10


def test_a_refund_without_the_request_keeps_the_request_charged() -> None:
    admission = Admission(_config(requests_per_minute=2, tokens_per_minute=100), FakeClock())
    charged = admission.check_rates("k", 50)
    admission.check_rates("k", 10)
    admission.refund("k", charged, request=False)  # tokens back, the request stays counted
    assert _rejection(lambda: admission.check_rates("k", 1)).reason == "rate_requests"


def test_refunding_a_request_gives_back_exactly_one() -> None:
    admission = Admission(_config(requests_per_minute=2), FakeClock())
    admission.check_rates("k", 0)
    admission.check_rates("k", 0)
    admission.refund("k", 0, request=True)
    admission.check_rates("k", 0)
    assert _rejection(lambda: admission.check_rates("k", 0)).reason == "rate_requests"
    admission.refund("never-seen", 10, request=True)  # an unknown key has nothing to refund


# --- concurrency slots ---------------------------------------------------------------------------


def test_slots_are_counted_per_key_and_overall() -> None:
    async def scenario() -> None:
        admission = Admission(
            _config(max_concurrency=3, max_concurrency_per_key=2, queue_timeout_s=0.05), FakeClock()
        )
        await admission.acquire("a")
        await admission.acquire("a")
        assert admission.in_flight == 2
        assert (await _rejection_async(admission.acquire("a"))).status == 503  # a holds its two
        await admission.acquire("b")
        assert admission.in_flight == 3
        assert (await _rejection_async(admission.acquire("c"))).status == 503  # the gateway holds three
        admission.release("a")
        assert admission.in_flight == 2
        await asyncio.wait_for(admission.acquire("a"), 0.5)  # a's freed slot is usable again …
        assert (await _rejection_async(admission.acquire("a"))).status == 503  # … but only one
        assert admission.queued == 0

    asyncio.run(scenario())


def test_per_key_concurrency_overrides_the_default() -> None:
    async def scenario() -> None:
        config = _config(
            max_concurrency_per_key=1, queue_timeout_s=0.05, keys={"vip": {"max_concurrency": 3}}
        )
        admission = Admission(config, FakeClock())
        for _ in range(3):
            await asyncio.wait_for(admission.acquire("vip"), 0.5)
        await admission.acquire("other")
        assert (await _rejection_async(admission.acquire("other"))).status == 503

    asyncio.run(scenario())


def test_a_timed_out_waiter_leaves_the_queue_and_takes_no_slot() -> None:
    async def scenario() -> None:
        admission = Admission(_config(max_concurrency=1, queue_timeout_s=0.05), FakeClock())
        await admission.acquire("a")
        err = await _rejection_async(admission.acquire("b"))
        assert (err.status, err.reason, err.code) == (503, "queue_timeout", "overloaded")
        assert err.message == "no capacity within the queue timeout; retry later"
        assert err.retry_after_s == 0.05
        assert admission.queued == 0
        admission.release("a")
        assert admission.in_flight == 0
        await asyncio.wait_for(admission.acquire("c"), 0.5)

    asyncio.run(scenario())


def test_a_full_queue_answers_429_at_once() -> None:
    async def scenario() -> None:
        admission = Admission(_config(max_concurrency=1, queue_size=1), FakeClock())
        await admission.acquire("a")
        waiting = asyncio.create_task(admission.acquire("b"))
        await asyncio.sleep(0)
        assert admission.queued == 1
        err = await _rejection_async(admission.acquire("c"))
        assert (err.status, err.reason, err.code) == (429, "queue_full", "rate_limit_exceeded")
        assert err.message == "too many requests waiting; retry shortly"
        assert err.retry_after_s == 1.0
        admission.release("a")
        await waiting

    asyncio.run(scenario())


def test_with_no_queue_a_free_slot_is_still_granted() -> None:
    async def scenario() -> None:
        admission = Admission(_config(max_concurrency=1, queue_size=0), FakeClock())
        await admission.acquire("a")
        assert admission.in_flight == 1
        assert (await _rejection_async(admission.acquire("b"))).reason == "queue_full"

    asyncio.run(scenario())


def test_a_waiter_blocked_by_its_key_does_not_hold_up_other_keys() -> None:
    async def scenario() -> list[str]:
        config = _config(max_concurrency=2, max_concurrency_per_key=1, queue_size=8, queue_timeout_s=1)
        admission = Admission(config, FakeClock())
        order: list[str] = []
        await admission.acquire("a")
        await admission.acquire("b")

        async def worker(key: str) -> None:
            await admission.acquire(key)
            order.append(key)

        tasks = [asyncio.create_task(worker(k)) for k in ("a", "a", "c")]
        await asyncio.sleep(0)
        assert admission.queued == 3
        admission.release("b")  # a is still at its own limit: c, queued behind a's two, runs
        await _settle()
        assert order == ["c"] and admission.in_flight == 2 and admission.queued == 2
        admission.release("c")  # a's one slot is taken, the gateway has room: nobody may run
        await _settle()
        assert order == ["c"] and admission.in_flight == 1
        admission.release("a")
        await _settle()
        assert order == ["c", "a"] and admission.in_flight == 1 and admission.queued == 1
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return order

    asyncio.run(scenario())


def test_a_waiter_that_leaves_is_forgotten() -> None:
    async def scenario() -> None:
        admission = Admission(_config(max_concurrency=1), FakeClock())
        await admission.acquire("a")
        task = asyncio.create_task(admission.acquire("b"))
        await asyncio.sleep(0)
        assert admission.queued == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert admission.queued == 0
        admission.release("a")
        assert admission.in_flight == 0  # the slot went to nobody

    asyncio.run(scenario())


def test_a_waiter_that_leaves_just_as_it_is_granted_gives_the_slot_back() -> None:
    async def scenario() -> None:
        admission = Admission(_config(max_concurrency=1), FakeClock())
        await admission.acquire("a")
        task = asyncio.create_task(admission.acquire("b"))
        await asyncio.sleep(0)
        task.cancel()
        admission.release("a")  # grants b's slot in the same turn as the client left
        with pytest.raises(asyncio.CancelledError):
            await task
        assert admission.in_flight == 0 and admission.queued == 0
        await asyncio.wait_for(admission.acquire("c"), 0.5)

    asyncio.run(scenario())


def test_a_slot_granted_from_the_queue_counts_for_its_key() -> None:
    async def scenario() -> None:
        config = _config(max_concurrency=3, max_concurrency_per_key=2, queue_timeout_s=0.05)
        admission = Admission(config, FakeClock())
        for key in ("a", "b", "c"):
            await admission.acquire(key)
        waiting = asyncio.create_task(admission.acquire("a"))  # the gateway is full: a queues
        await _settle()
        admission.release("c")  # … and is granted its second slot from the queue
        await waiting
        admission.release("b")  # the gateway has room again, but a holds its two
        assert (await _rejection_async(admission.acquire("a"))).status == 503
        admission.release("a")
        await asyncio.wait_for(admission.acquire("a"), 0.5)  # one of a's two came back: exactly one
        assert admission.in_flight == 2

    asyncio.run(scenario())
