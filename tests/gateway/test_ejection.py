"""Outlier ejection as Envoy does it, end to end: failing statuses are retried elsewhere and eject the
backend; ejected backends come back; an engine's 429 passes through; a static pool with nothing
healthy answers at once."""

from __future__ import annotations

import json
import time

import openai
import pytest

from gateway.clients import MSG, client, get, post
from gateway.conftest import Stack
from gateway.fake_engine import static_pool

BODY = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 1}).encode()


def test_a_backend_answering_500_is_retried_elsewhere_and_ejected(stack: Stack) -> None:
    bad, good = stack.engine(), stack.engine()
    bad.fail_status = 500
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [bad.url, good.url], routing="round-robin")],
            "retries": {"eject_after_failures": 2, "eject_s": 30},
        }
    )
    statuses = [post(gw, "/v1/chat/completions", BODY)[0] for _ in range(10)]
    # before: every other request came back 500 and the bad backend kept half the traffic
    assert statuses == [200] * 10
    assert bad.requests == 2 and good.requests == 10
    metrics = get(gw, "/metrics")[1].decode()
    assert 'kubellm_gateway_retries_total{pool="tiny"} 2' in metrics


@pytest.mark.parametrize("status", [502, 503, 504])
def test_every_status_in_eject_on_status_counts(stack: Stack, status: int) -> None:
    bad, good = stack.engine(), stack.engine()
    bad.fail_status = status
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [bad.url, good.url], routing="round-robin")],
            "retries": {"eject_after_failures": 1, "eject_s": 30},
        }
    )
    assert [post(gw, "/v1/chat/completions", BODY)[0] for _ in range(6)] == [200] * 6
    assert bad.requests == 1


def test_eject_on_status_is_configurable(stack: Stack) -> None:
    bad, good = stack.engine(), stack.engine()
    bad.fail_status = 500
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [bad.url, good.url], routing="round-robin")],
            "retries": {"attempts": 1, "on_status": [], "eject_on_status": [503], "eject_after_failures": 1},
        }
    )
    statuses = [post(gw, "/v1/chat/completions", BODY)[0] for _ in range(6)]
    assert statuses.count(500) == 3 and bad.requests == 3  # 500 is not a failure here: never ejected


def test_an_ejected_backend_is_readmitted_after_eject_s(stack: Stack) -> None:
    flaky, good = stack.engine(), stack.engine()
    flaky.fail_status = 503
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [flaky.url, good.url], routing="round-robin")],
            "retries": {"eject_after_failures": 1, "eject_s": 0.4},
            "health_checks": {"enabled": False},
        }
    )
    for _ in range(4):
        assert post(gw, "/v1/chat/completions", BODY)[0] == 200
    assert flaky.requests == 1
    flaky.fail_status = None
    time.sleep(0.5)
    for _ in range(4):
        assert post(gw, "/v1/chat/completions", BODY)[0] == 200
    assert flaky.requests >= 3  # back in the rotation


def test_the_engines_429_passes_through_with_its_retry_after(stack: Stack) -> None:
    busy, other = stack.engine(), stack.engine()
    busy.fail_status = 429
    busy.fail_headers = {"Retry-After": "7"}
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [busy.url, other.url], routing="round-robin")],
            "retries": {"eject_after_failures": 1},
        }
    )
    with pytest.raises(openai.RateLimitError) as err:
        client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert err.value.response.headers["Retry-After"] == "7"
    for _ in range(6):
        post(gw, "/v1/chat/completions", BODY)
    assert busy.requests == 4  # never ejected: a 429 is back-pressure, not a failure


def test_a_static_pool_with_every_backend_down_answers_503_at_once(stack: Stack) -> None:
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", ["http://127.0.0.1:9", "http://127.0.0.1:19"])],
            "cold_start_timeout_s": 600,
        }
    )
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as err:
        client(gw).chat.completions.create(model="tiny", messages=MSG)  # type: ignore[arg-type]
    # before: held for the cold-start timeout (600 s) although static backends cannot scale from zero
    assert time.monotonic() - started < 2
    assert err.value.status_code == 503 and int(err.value.response.headers["Retry-After"]) >= 1
    assert err.value.code == "unavailable"
