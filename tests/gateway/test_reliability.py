"""Reliability end to end: retries, broken streams, scale from zero, disconnects, slow clients, health."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from gateway.clients import MSG, client, get, post
from gateway.conftest import Stack
from gateway.fake_engine import FakeEngine, static_pool
from gateway.raw_upstream import Answer, RawUpstream


def test_dead_backend_is_retried_on_another(stack: Stack) -> None:
    engine = stack.engine()
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [dead, engine.url], routing="round-robin")],
            "health_checks": {"enabled": False},
        }
    )
    c = client(gw)
    for _ in range(4):
        assert c.chat.completions.create(model="tiny", messages=MSG, max_tokens=1).choices  # type: ignore[arg-type]
    assert engine.requests == 4
    assert "kubellm_gateway_retries_total" in get(gw, "/metrics")[1].decode()


def test_503_from_engine_is_retried(stack: Stack) -> None:
    bad, good = stack.engine(), stack.engine()
    bad.fail_status = 503
    gw = stack.gateway({"pools": [static_pool("tiny", [bad.url, good.url], routing="round-robin")]})
    for _ in range(3):
        client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert good.requests == 3 and bad.requests >= 1


def test_backend_killed_mid_stream_ends_with_error_event_and_done(stack: Stack) -> None:
    engine = stack.engine()
    engine.die_after_chunks = 3
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]})
    body = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 10, "stream": True}).encode()
    status, _, raw = post(gw, "/v1/chat/completions", body)
    events = [e for e in raw.decode().split("\n\n") if e.strip()]
    assert status == 200
    assert len(events) == 5  # three chunks, the error, [DONE]
    assert json.loads(events[3].removeprefix("data: "))["error"]["code"] == "upstream_error"
    assert events[4] == "data: [DONE]"
    with pytest.raises(openai.APIError):
        list(client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=10, stream=True))  # type: ignore[arg-type]


def test_scale_from_zero_holds_then_succeeds(stack: Stack, loop_thread: Any) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = stack.gateway(  # static URLs hold only when told the engines scale from zero
        {
            "pools": [static_pool("tiny", [f"http://127.0.0.1:{port}"], scale_from_zero=True)],
            "cold_start_timeout_s": 10,
        }
    )
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        future = pool.submit(
            lambda: client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=2)
        )  # type: ignore[arg-type]
        time.sleep(0.4)
        assert 'kubellm_pool_pending_requests{pool="tiny"} 1' in get(gw, "/metrics")[1].decode()
        late = FakeEngine()
        loop_thread.run(late.start(port))
        stack.engines.append(late)
        answer = future.result(10)
    assert answer.choices[0].message.content == "t0 t1 "
    assert time.monotonic() - started >= 0.4
    assert 'kubellm_pool_pending_requests{pool="tiny"} 0' in get(gw, "/metrics")[1].decode()


def test_cold_start_timeout_is_503(stack: Stack) -> None:
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", ["http://127.0.0.1:9"], scale_from_zero=True)],
            "cold_start_timeout_s": 0.3,
        }
    )
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as err:
        client(gw).chat.completions.create(model="tiny", messages=MSG)  # type: ignore[arg-type]
    assert time.monotonic() - started >= 0.3  # held for the cold start, then 503
    assert err.value.status_code == 503 and err.value.response.headers["Retry-After"]


def test_client_disconnect_cancels_upstream(stack: Stack) -> None:
    engine = stack.engine(token_delay_s=0.05)
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]})
    stream = client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=200, stream=True)  # type: ignore[arg-type]
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 3
    while engine.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.in_flight == 0 and engine.completed == 0


def test_slow_client_gets_the_whole_stream(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]})
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(gw.rsplit(":", 1)[1]), timeout=10)
    body = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 2000, "stream": True})
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    time.sleep(0.5)  # the gateway must buffer or apply back-pressure, not drop
    data = b""
    while chunk := resp.read(4096):
        data += chunk
        if len(data) < 20000:
            time.sleep(0.002)
    assert data.count(b"data: ") == 2001 and data.endswith(b"data: [DONE]\n\n")


def test_active_health_checks_take_a_backend_out_and_back(stack: Stack) -> None:
    a, b = stack.engine(), stack.engine()
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [a.url, b.url], routing="round-robin")],
            "health_checks": {"interval_s": 0.05, "unhealthy_after": 1, "healthy_after": 1},
            "metrics": {"expose_backend_urls": True},
        }
    )
    a.healthy = False
    time.sleep(0.3)
    assert f'kubellm_gateway_backend_up{{pool="tiny",backend="{a.url}"}} 0' in get(gw, "/metrics")[1].decode()
    for _ in range(4):
        client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert (a.requests, b.requests) == (0, 4)
    a.healthy = True
    time.sleep(0.3)
    for _ in range(4):
        client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert a.requests == 2


def test_each_pool_is_probed_on_its_own_health_path(stack: Stack) -> None:
    """One gateway in front of engines whose health routes differ (Triton's /health/ready beside
    vLLM's /health): a pool's health_path replaces health_checks.path for its backends only."""
    own_path, default_path = stack.engine(), stack.engine()
    own_path.healthy = default_path.healthy = False  # their /health answers 503; /v1/models answers 200
    gw = stack.gateway(
        {
            "pools": [
                static_pool("own", [own_path.url], health_path="/v1/models"),
                static_pool("default", [default_path.url]),
            ],
            "health_checks": {"interval_s": 0.05, "unhealthy_after": 1, "healthy_after": 1},
        }
    )
    time.sleep(0.3)
    body = {"messages": MSG, "max_tokens": 1}
    assert post(gw, "/v1/chat/completions", json.dumps({"model": "own", **body}).encode())[0] == 200
    status, _, answer = post(gw, "/v1/chat/completions", json.dumps({"model": "default", **body}).encode())
    assert status == 503 and json.loads(answer)["error"]["code"] == "unavailable"
    assert default_path.requests == 0
    assert own_path.requests == 1


def test_failing_backend_is_ejected_passively(stack: Stack) -> None:
    bad, good = stack.engine(), stack.engine()
    bad.fail_status = 502
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [bad.url, good.url], routing="round-robin")],
            "retries": {"attempts": 1, "eject_after_failures": 2, "eject_s": 30},
        }
    )
    statuses = [
        post(gw, "/v1/chat/completions", json.dumps({"model": "tiny", "messages": MSG}).encode())[0]
        for _ in range(8)
    ]
    assert statuses.count(502) == 2 and bad.requests == 2 and good.requests == 6


def test_requests_cut_at_the_drain_deadline_end_cleanly_and_are_logged_as_such(stack: Stack) -> None:
    import concurrent.futures
    import io

    from kubellm.gateway.server import Gateway
    from kubellm.spec.gateway import GatewayConfig

    streaming, slow = stack.engine(token_delay_s=0.1), stack.engine(delay_s=5)
    audit = io.StringIO()
    config = GatewayConfig.model_validate(
        {
            "listen": {"port": 0},
            "pools": [static_pool("tiny", [streaming.url]), static_pool("slow", [slow.url])],
            "health_checks": {"enabled": False},
        }
    )
    gateway = Gateway(config, audit_stream=audit)
    stack.loop.run(gateway.start())
    stack.gateways.append(gateway)
    base = f"http://127.0.0.1:{gateway.port}"
    stream_body = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 100, "stream": True}).encode()
    plain_body = json.dumps({"model": "slow", "messages": MSG}).encode()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        stream = pool.submit(post, base, "/v1/chat/completions", stream_body)
        plain = pool.submit(post, base, "/v1/chat/completions", plain_body)
        time.sleep(0.5)
        cut = stack.loop.run(gateway.drain(0.2))
        status, _, raw = stream.result(10)
        plain_status, plain_headers, plain_raw = plain.result(10)
    assert cut == 2
    events = [e for e in raw.decode().split("\n\n") if e.strip()]
    assert status == 200 and events[-1] == "data: [DONE]"
    assert json.loads(events[-2].removeprefix("data: "))["error"]["code"] == "gateway_shutdown"
    assert plain_status == 503 and plain_headers["Retry-After"]
    assert json.loads(plain_raw)["error"]["code"] == "gateway_shutdown"
    lines = [json.loads(line) for line in audit.getvalue().splitlines()]
    assert sorted(line["error"] for line in lines) == ["drain_deadline", "drain_deadline"]


def test_a_stream_that_stalls_after_its_first_event_is_cut_at_between_chunks_s(stack: Stack) -> None:
    """Silence after the first SSE event is bounded by between_chunks_s (0.3 s), not first_byte_s (20 s):
    the client gets the first event, then an error event and [DONE], quickly."""
    event = b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    raw = RawUpstream(
        answer=Answer(
            body=event * 3, framing="chunked", content_type="text/event-stream", splits=[len(event)],
            stall_after=len(event),
        )
    )  # fmt: skip
    stack.loop.run(raw.start())
    try:
        gw = stack.gateway(
            {
                "pools": [static_pool("tiny", [raw.url])],
                "health_checks": {"enabled": False},
                "timeouts": {"first_byte_s": 20, "between_chunks_s": 0.3},
            }
        )
        started = time.monotonic()
        body = json.dumps({"model": "tiny", "messages": MSG, "stream": True}).encode()
        status, _, data = post(gw, "/v1/chat/completions", body)
        elapsed = time.monotonic() - started
    finally:
        stack.loop.run(raw.stop())
    assert status == 200 and elapsed < 5
    events = [line for line in data.split(b"\n\n") if line]
    assert events[0] == event.rstrip(b"\n")
    assert json.loads(events[1].removeprefix(b"data: "))["error"]["code"] == "upstream_error"
    assert events[-1] == b"data: [DONE]"
