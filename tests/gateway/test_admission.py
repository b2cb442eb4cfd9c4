"""Keys, rate buckets and the concurrency queue, with an injected clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.errors import UsageError
from kubellm.gateway.admission import Admission, ApiKeyStore, TokenBucket
from kubellm.gateway.rejection import Rejection
from kubellm.spec.gateway import AdmissionConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_keys_file_is_hashed_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# team keys\nalice: sk-a\n\nbob:sk-b:with-colon\n")
    store = ApiKeyStore.from_file(path)
    assert store.authenticate("Bearer sk-a") == "alice"
    assert store.authenticate("bearer sk-b:with-colon") == "bob"
    assert "sk-a" not in repr(store.__dict__)
    for header in (None, "", "Basic xyz", "Bearer nope", "Bearer "):
        with pytest.raises(Rejection) as err:
            store.authenticate(header)
        assert err.value.status == 401


@pytest.mark.parametrize("text", ["no-colon\n", "a:1\na:2\n", "\n# nothing\n", ":key\n"])
def test_bad_keys_files_say_what_to_fix(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        ApiKeyStore.from_file(path)
    assert err.value.fix


def test_token_bucket_refills_with_time() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock)
    bucket.take(60)
    assert bucket.wait_for(1) == pytest.approx(1.0)
    clock.now += 1.0
    assert bucket.wait_for(1) == 0.0


def test_rates_reject_with_retry_after_and_refund_on_usage() -> None:
    clock = FakeClock()
    admission = Admission(AdmissionConfig(requests_per_minute=2, tokens_per_minute=1000), clock)
    charged = admission.check_rates("k", 600)
    admission.settle("k", charged, 100)  # the engine used far less
    admission.check_rates("k", 600)
    with pytest.raises(Rejection) as err:
        admission.check_rates("k", 10)
    assert err.value.status == 429 and err.value.reason == "rate_requests"
    assert 0 < err.value.retry_after_s <= 30  # type: ignore[operator]
    clock.now += 60
    admission.check_rates("k", 900)
    with pytest.raises(Rejection) as err:
        admission.check_rates("k", 500)
    assert err.value.reason == "rate_tokens"


def test_per_key_overrides() -> None:
    config = AdmissionConfig.model_validate(
        {"requests_per_minute": 1, "keys": {"vip": {"requests_per_minute": 5}}}
    )
    admission = Admission(config, FakeClock())
    for _ in range(5):
        admission.check_rates("vip", 1)
    admission.check_rates("other", 1)
    with pytest.raises(Rejection):
        admission.check_rates("other", 1)


def test_unknown_priority_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="priority class"):
        AdmissionConfig.model_validate({"keys": {"a": {"priority_class": "gold"}}})


def test_queue_grants_slots_by_priority() -> None:
    config = AdmissionConfig.model_validate(
        {
            "max_concurrency": 1,
            "queue_size": 5,
            "priority_classes": [{"name": "default", "priority": 0}, {"name": "interactive", "priority": 10}],
            "keys": {"fast": {"priority_class": "interactive"}},
        }
    )

    async def scenario() -> list[str]:
        admission = Admission(config, FakeClock())
        order: list[str] = []
        await admission.acquire("batch")

        async def worker(key: str) -> None:
            await admission.acquire(key)
            order.append(key)
            admission.release(key)

        tasks = [asyncio.create_task(worker("batch")), asyncio.create_task(worker("batch"))]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(worker("fast")))
        await asyncio.sleep(0)
        assert admission.queued == 3
        admission.release("batch")
        await asyncio.gather(*tasks)
        assert admission.in_flight == 0
        return order

    assert asyncio.run(scenario()) == ["fast", "batch", "batch"]


def test_per_key_concurrency_does_not_block_other_keys() -> None:
    config = AdmissionConfig(max_concurrency_per_key=1, queue_size=4, queue_timeout_s=0.05)

    async def scenario() -> None:
        admission = Admission(config, FakeClock())
        await admission.acquire("a")
        await asyncio.wait_for(admission.acquire("b"), 0.5)
        with pytest.raises(Rejection) as err:
            await admission.acquire("a")
        assert err.value.status == 503

    asyncio.run(scenario())


def test_a_charge_above_a_minute_waits_for_a_full_bucket_and_is_capped() -> None:
    clock = FakeClock()
    admission = Admission(AdmissionConfig(tokens_per_minute=1000), clock)
    assert admission.check_rates("k", 10**12) == 1000  # not 10^12: the key is not locked for ages
    with pytest.raises(Rejection) as err:
        admission.check_rates("k", 1)
    assert err.value.retry_after_s == pytest.approx(0.06)
    admission.refund("k", 1000, request=False)
    assert admission.check_rates("k", 999) == 999


def test_a_refunded_request_gives_back_its_request_and_tokens() -> None:
    clock = FakeClock()
    admission = Admission(AdmissionConfig(requests_per_minute=1, tokens_per_minute=100), clock)
    charged = admission.check_rates("k", 80)
    admission.refund("k", charged, request=True)  # e.g. turned away as queue_full
    assert admission.check_rates("k", 100) == 100
    with pytest.raises(Rejection) as err:
        admission.check_rates("k", 1)
    assert err.value.reason == "rate_requests"


# --- properties of the token bucket: the burst cap and exact waits -----------------------------------

steps = st.lists(st.tuples(st.floats(0, 120, allow_nan=False), st.integers(1, 5000)), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(rate=st.integers(1, 100_000), steps=steps)
def test_admitted_amount_never_exceeds_the_burst_plus_the_refill(
    rate: int, steps: list[tuple[float, int]]
) -> None:
    """Over any window from the start, what is admitted is at most one minute's worth plus the refill."""
    clock = FakeClock()
    bucket = TokenBucket(rate, clock)
    start = clock.now
    admitted = 0.0
    for advance_s, amount in steps:
        clock.now += advance_s
        amount = min(amount, rate)
        if bucket.wait_for(amount) == 0:
            bucket.take(amount)
            admitted += amount
        assert admitted <= rate + rate / 60 * (clock.now - start) + 1e-6
        assert bucket.level <= bucket.capacity


@settings(max_examples=300, deadline=None)
@given(rate=st.integers(1, 100_000), spent=st.floats(0, 10, allow_nan=False), amount=st.floats(0.001, 2))
def test_waiting_the_answer_of_wait_for_is_exactly_enough(rate: int, spent: float, amount: float) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, clock)
    bucket.take(rate * spent)  # from full to (possibly far) below zero
    want = rate * amount
    wait = bucket.wait_for(want)
    if wait > 1e-6:  # (below that, the clock's float resolution decides)
        clock.now += wait * 0.999
        assert bucket.wait_for(want) > 0  # not before
    clock.now += wait * 0.001 + 1e-9
    assert bucket.wait_for(want) == pytest.approx(0, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(rate=st.integers(1, 10_000), idle_s=st.floats(0, 10**6, allow_nan=False))
def test_an_idle_bucket_holds_one_minute_at_most(rate: int, idle_s: float) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, clock)
    bucket.take(rate)
    start = clock.now
    clock.now += idle_s
    idle_s = clock.now - start  # what the clock can tell apart (1000 + 1e-11 is not exact)
    assert bucket.level == pytest.approx(min(rate, rate / 60 * idle_s))
    bucket.take(-10 * rate)  # refunds do not lift it past its capacity either
    assert bucket.level == rate
