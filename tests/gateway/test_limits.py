"""Limits that cannot be bypassed, end to end with the openai SDK: the max_tokens cap, prompt size with
token-id prompts, tokens-per-minute refunds, and requests-per-minute never spent on a queue_full 429."""

from __future__ import annotations

import concurrent.futures
import json
import time

import openai
import pytest

from gateway.clients import MSG, client, post
from gateway.conftest import Stack
from gateway.fake_engine import static_pool


def test_cap_binds_max_completion_tokens_too(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])], "admission": {"max_tokens_cap": 64}})
    # vLLM reads max_completion_tokens first: without the cap on it this got 3,000 tokens
    answer = client(gw).chat.completions.create(
        model="tiny", messages=MSG, max_tokens=1, max_completion_tokens=3000
    )  # type: ignore[arg-type]
    assert answer.usage is not None and answer.usage.completion_tokens <= 64
    assert engine.last_body["max_completion_tokens"] == 64 and engine.last_body["max_tokens"] == 1
    answer = client(gw).chat.completions.create(model="tiny", messages=MSG, max_completion_tokens=9000)  # type: ignore[arg-type]
    assert answer.usage is not None and answer.usage.completion_tokens == 64
    client(gw).chat.completions.create(model="tiny", messages=MSG, max_completion_tokens=0)  # type: ignore[arg-type]
    assert engine.last_body["max_tokens"] == 64  # 0 means "unset" to vLLM: the cap is set


@pytest.mark.parametrize(
    ("path", "field", "prompt"),
    [
        ("/v1/completions", "prompt", [7] * 80),
        ("/v1/completions", "prompt", [[7] * 30, [8] * 30]),
        ("/v1/embeddings", "input", [[7] * 61]),
        ("/v1/completions", "prompt", ["x" * 120, [7] * 40]),
    ],
)
def test_prompt_limit_counts_token_id_prompts(stack: Stack, path: str, field: str, prompt: object) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])], "admission": {"max_prompt_tokens": 50}})
    status, _, body = post(gw, path, json.dumps({"model": "tiny", field: prompt}).encode())
    assert status == 400 and json.loads(body)["error"]["code"] == "context_length_exceeded"
    assert engine.requests == 0
    status, _, _ = post(gw, path, json.dumps({"model": "tiny", field: [7] * 50}).encode())
    assert status == 200  # the boundary itself is allowed


def test_tokens_charged_by_estimate_are_refunded_when_the_engine_refuses(stack: Stack) -> None:
    engine = stack.engine(max_model_len=4096)
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "admission": {"tokens_per_minute": 1000}},
        keys={"a": "ka"},
    )
    c = client(gw, "ka")
    with pytest.raises(openai.BadRequestError):  # the engine's own 400
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=10**12)  # type: ignore[arg-type]
    # before the fix the estimate (10^12 tokens) stayed charged: the key was locked until a restart
    assert c.chat.completions.create(model="tiny", messages=MSG, max_tokens=8).choices  # type: ignore[arg-type]


def test_tokens_are_settled_by_what_was_seen_when_the_engine_reports_no_usage(stack: Stack) -> None:
    engine = stack.engine(max_output=4)
    engine.omit_usage = True
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "admission": {"tokens_per_minute": 1000}},
        keys={"a": "ka"},
    )
    c = client(gw, "ka")
    c.chat.completions.create(model="tiny", messages=MSG, max_tokens=10**9)  # type: ignore[arg-type]
    assert c.chat.completions.create(model="tiny", messages=MSG, max_tokens=8).choices  # type: ignore[arg-type]
    # a stream without usage is charged by its events, not left free
    engine.max_output = 300
    for _ in range(3):
        list(c.chat.completions.create(model="tiny", messages=MSG, max_tokens=300, stream=True))  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError):
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=200)  # type: ignore[arg-type]


def test_requests_per_minute_are_not_spent_on_queue_full_rejections(stack: Stack) -> None:
    engine = stack.engine(delay_s=0.5)
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [engine.url])],
            "admission": {"requests_per_minute": 2, "max_concurrency": 1, "queue_size": 0},
        },
        keys={"a": "ka"},
    )
    body = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 1}).encode()
    auth = {"Authorization": "Bearer ka"}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(post, gw, "/v1/chat/completions", body, auth)
        time.sleep(0.15)
        status, _, rejected = post(gw, "/v1/chat/completions", body, auth)
        assert status == 429 and json.loads(rejected)["error"]["code"] == "rate_limit_exceeded"
        assert first.result()[0] == 200
    # one request served, one turned away by the queue: the key still has its second request
    assert post(gw, "/v1/chat/completions", body, auth)[0] == 200
    assert post(gw, "/v1/chat/completions", body, auth)[0] == 429
