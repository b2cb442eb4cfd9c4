"""Keys, rate buckets and the concurrency queue, with an injected clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

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
    admission.check_rates("k", 600)
    admission.correct_tokens("k", 600, 100)  # the engine used far less
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
