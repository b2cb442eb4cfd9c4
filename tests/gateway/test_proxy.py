"""End to end on 127.0.0.1: fake engines, the gateway, and the openai SDK as the client — answers,
models, keys, limits, routing across and within pools, audit lines."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from gateway.clients import MSG, client, get, post
from gateway.conftest import Stack
from gateway.fake_engine import static_pool


def test_answers_through_the_gateway_equal_direct_ones(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]})
    direct, through = client(engine.url), client(gw)
    a = direct.chat.completions.create(model="tiny", messages=MSG, max_tokens=5)  # type: ignore[arg-type]
    b = through.chat.completions.create(model="tiny", messages=MSG, max_tokens=5)  # type: ignore[arg-type]
    assert a.model_dump() == b.model_dump()
    sa = [
        c.model_dump()
        for c in direct.chat.completions.create(
            model="tiny", messages=MSG, max_tokens=6, stream=True, stream_options={"include_usage": True}
        )
    ]  # type: ignore[arg-type]
    sb = [
        c.model_dump()
        for c in through.chat.completions.create(
            model="tiny", messages=MSG, max_tokens=6, stream=True, stream_options={"include_usage": True}
        )
    ]  # type: ignore[arg-type]
    assert sa == sb and len(sb) == 7
    ca = direct.completions.create(model="tiny", prompt="x", max_tokens=3)
    cb = through.completions.create(model="tiny", prompt="x", max_tokens=3)
    assert ca.model_dump() == cb.model_dump()
    ea = direct.embeddings.create(model="tiny", input="x")
    eb = through.embeddings.create(model="tiny", input="x")
    assert ea.model_dump() == eb.model_dump()


def test_models_aggregated_and_unknown_model_is_404(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("big", [engine.url], aliases=["large"]), static_pool("small", [engine.url])]}
    )
    c = client(gw)
    assert sorted(m.id for m in c.models.list()) == ["big", "large", "small"]
    with pytest.raises(openai.NotFoundError) as err:
        c.chat.completions.create(model="nope", messages=MSG)  # type: ignore[arg-type]
    assert err.value.code == "model_not_found"
    c.chat.completions.create(model="large", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert engine.last_body["model"] == "big"  # aliases are rewritten to the pool name


def test_api_keys_401_and_open_endpoints(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "metrics": {"expose_key_ids": True}},
        keys={"alice": "sk-alice"},
    )
    with pytest.raises(openai.AuthenticationError):
        client(gw, "wrong").chat.completions.create(model="tiny", messages=MSG)  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):
        client(gw, "wrong").models.list()
    assert client(gw, "sk-alice").chat.completions.create(model="tiny", messages=MSG, max_tokens=2).choices  # type: ignore[arg-type]
    for path in ("/health", "/ready", "/metrics"):
        assert get(gw, path)[0] == 200
    metrics = get(gw, "/metrics")[1].decode()
    assert 'kubellm_gateway_tokens_total{key="alice",direction="out"} 2' in metrics
    assert "sk-alice" not in metrics
    assert 'kubellm_gateway_rejections_total{reason="invalid_key"} 2' in metrics


def test_requests_per_minute_429_with_retry_after(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "admission": {"requests_per_minute": 2}},
        keys={"a": "ka", "b": "kb"},
    )
    for _ in range(2):
        client(gw, "ka").chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    status, headers, body = post(
        gw,
        "/v1/chat/completions",
        json.dumps({"model": "tiny", "messages": MSG}).encode(),
        {"Authorization": "Bearer ka"},
    )
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert json.loads(body)["error"]["code"] == "rate_limit_exceeded"
    client(gw, "kb").chat.completions.create(model="tiny", messages=MSG, max_tokens=1)  # type: ignore[arg-type]


def test_tokens_per_minute_charged_by_estimate_and_corrected_by_usage(stack: Stack) -> None:
    engine = stack.engine(max_output=2)
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "admission": {"tokens_per_minute": 100}},
        keys={"a": "ka"},
    )
    c = client(gw, "ka")
    # each request is charged 3 + 60 tokens up front; the engine reports 5 + 2, so most is refunded —
    # without the correction the second request would already be over the limit
    for _ in range(4):
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=60)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError):
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=99)  # type: ignore[arg-type]


def test_body_prompt_and_max_tokens_limits(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [engine.url])],
            "admission": {"max_body_bytes": 2048, "max_prompt_tokens": 50, "max_tokens_cap": 4},
        }
    )
    status, _, body = post(gw, "/v1/chat/completions", b'{"model":"tiny","pad":"' + b"x" * 4000 + b'"}')
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
    with pytest.raises(openai.BadRequestError) as err:
        client(gw).chat.completions.create(model="tiny", messages=[{"role": "user", "content": "y" * 400}])
    assert err.value.code == "context_length_exceeded"
    answer = client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=50)  # type: ignore[arg-type]
    assert (
        engine.last_body["max_tokens"] == 4
        and answer.usage is not None
        and answer.usage.completion_tokens == 4
    )


def test_concurrency_limit_queue_full_is_429_and_timeout_503(stack: Stack) -> None:
    engine = stack.engine(delay_s=0.6)
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [engine.url])],
            "admission": {"max_concurrency": 1, "queue_size": 1, "queue_timeout_s": 0.3},
        }
    )
    import concurrent.futures

    body = json.dumps({"model": "tiny", "messages": MSG}).encode()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        first = pool.submit(post, gw, "/v1/chat/completions", body)
        time.sleep(0.1)
        second = pool.submit(post, gw, "/v1/chat/completions", body)
        time.sleep(0.1)
        third = pool.submit(post, gw, "/v1/chat/completions", body)
        statuses = [first.result()[0], second.result()[0], third.result()[0]]
    assert statuses == [200, 503, 429]
    assert "Retry-After" in third.result()[1]


def test_fallback_and_long_context_pools(stack: Stack) -> None:
    main, small, longer = stack.engine(delay_s=0.3), stack.engine(), stack.engine()
    gw = stack.gateway(
        {
            "pools": [
                static_pool(
                    "main",
                    [main.url],
                    max_outstanding_per_backend=1,
                    fallback_pool="small",
                    long_context={"pool": "long", "threshold_tokens": 1000},
                ),
                static_pool("small", [small.url]),
                static_pool("long", [longer.url]),
            ]
        }
    )
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(lambda: client(gw).chat.completions.create(model="main", messages=MSG, max_tokens=1))  # type: ignore[arg-type]
            for _ in range(3)
        ]
        for f in futures:
            f.result()
    assert main.requests >= 1 and small.requests >= 1 and main.requests + small.requests == 3
    assert small.last_body["model"] == "small"
    client(gw).chat.completions.create(model="main", messages=MSG, max_tokens=2000)  # type: ignore[arg-type]
    assert longer.requests == 1 and longer.last_body["model"] == "long"


@pytest.mark.parametrize(
    ("policy", "check"),
    [
        ("round-robin", lambda a, b: a == b == 20),
        ("least-outstanding", lambda a, b: b <= 8),
        ("power-of-two", lambda a, b: b <= 8),
    ],
)
def test_policy_distribution_with_a_slow_backend(stack: Stack, policy: str, check: Any) -> None:
    fast, slow = stack.engine(delay_s=0.01), stack.engine(delay_s=0.2)
    slow.waiting = 5.0
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [fast.url, slow.url], routing=policy, metrics_interval_s=0.05)]}
    )
    time.sleep(0.15)  # one scrape of the engine metrics
    import concurrent.futures

    body = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 1}).encode()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: post(gw, "/v1/chat/completions", body)[0], range(40)))
    assert results == [200] * 40
    assert check(fast.requests, slow.requests), (fast.requests, slow.requests)


def test_prefix_and_session_affinity_stick(stack: Stack) -> None:
    engines = [stack.engine() for _ in range(3)]
    urls = [e.url for e in engines]
    gw = stack.gateway(
        {
            "pools": [
                static_pool("p", urls, routing="prefix-affinity"),
                static_pool("s", urls, routing="session-affinity"),
            ]
        }
    )
    c = client(gw)
    for i in range(6):
        c.chat.completions.create(
            model="p",
            messages=[
                {"role": "system", "content": "shared prefix " * 30},  # type: ignore[arg-type]
                {"role": "user", "content": f"q{i}"},
            ],
            max_tokens=1,
        )
    assert sorted(e.requests for e in engines) == [0, 0, 6]
    before = [e.requests for e in engines]
    for i in range(6):
        c.chat.completions.create(
            model="s",
            messages=[{"role": "user", "content": f"q{i}"}],
            max_tokens=1,  # type: ignore[arg-type]
            user="session-42",
        )
    assert sorted(e.requests - b for e, b in zip(engines, before, strict=True)) == [0, 0, 6]


@pytest.mark.parametrize("log_prompts", [False, True])
def test_audit_line_has_key_id_not_key_and_prompt_only_when_asked(stack: Stack, log_prompts: bool) -> None:
    import io

    from kubellm.gateway.admission import ApiKeyStore
    from kubellm.gateway.server import Gateway
    from kubellm.spec.gateway import GatewayConfig

    engine = stack.engine()
    stream = io.StringIO()
    config = GatewayConfig.model_validate(
        {"listen": {"port": 0}, "pools": [static_pool("tiny", [engine.url])], "log_prompts": log_prompts}
    )
    gateway = Gateway(config, keys=ApiKeyStore({"bob": "sk-secret"}), audit_stream=stream)
    stack.loop.run(gateway.start())
    stack.gateways.append(gateway)
    client(f"http://127.0.0.1:{gateway.port}", "sk-secret").chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "very private words"}], max_tokens=3
    )
    stack.loop.run(gateway.audit.stop())  # type: ignore[union-attr]
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["key"] == "bob" and line["status"] == 200 and line["completion_tokens"] == 3
    assert line["backend"] == engine.url and line["model"] == "tiny" and line["latency_ms"] > 0
    assert "sk-secret" not in stream.getvalue()
    assert ("private" in stream.getvalue()) == log_prompts


def test_key_limited_to_some_models_gets_403_for_others(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {
            "pools": [static_pool("a", [engine.url]), static_pool("b", [engine.url])],
            "admission": {"keys": {"intern": {"models": ["a"]}}},
        },
        keys={"intern": "sk-i", "lead": "sk-l"},
    )
    client(gw, "sk-i").chat.completions.create(model="a", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    with pytest.raises(openai.PermissionDeniedError) as err:
        client(gw, "sk-i").chat.completions.create(model="b", messages=MSG, max_tokens=1)  # type: ignore[arg-type]
    assert err.value.code == "permission_denied"
    client(gw, "sk-l").chat.completions.create(model="b", messages=MSG, max_tokens=1)  # type: ignore[arg-type]


def test_tls_termination(stack: Stack, tmp_path: Any) -> None:
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    engine = stack.engine()
    base = stack.gateway(
        {
            "listen": {"host": "127.0.0.1", "port": 0, "tls_cert": str(cert), "tls_key": str(key)},
            "pools": [static_pool("tiny", [engine.url])],
        }
    )
    import httpx

    https = base.replace("http://", "https://")
    c = openai.OpenAI(
        base_url=https + "/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx.Client(verify=ssl.create_default_context(cafile=str(cert))),
    )
    assert (
        c.chat.completions.create(model="tiny", messages=MSG, max_tokens=2).choices[0].message.content
        == "t0 t1 "
    )  # type: ignore[arg-type]


def test_request_ids_are_uuids_and_client_ids_are_kept(stack: Stack) -> None:
    import uuid

    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]})
    body = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 1}).encode()
    _, headers, _ = post(gw, "/v1/chat/completions", body)
    assert uuid.UUID(headers["X-Request-Id"]).version == 4
    _, headers, _ = post(gw, "/v1/chat/completions", body, {"X-Request-Id": "trace-abc"})
    assert headers["X-Request-Id"] == "trace-abc"


def test_dns_discovered_backends_serve(stack: Stack) -> None:
    engine = stack.engine()
    port = int(engine.url.rsplit(":", 1)[1])
    gw = stack.gateway(
        {
            "pools": [{"name": "tiny", "backends": {"kind": "dns", "name": "localhost", "port": port}}],
            "metrics": {"expose_backend_urls": True},
        }
    )
    assert client(gw).chat.completions.create(model="tiny", messages=MSG, max_tokens=1).choices  # type: ignore[arg-type]
    assert f'backend="http://127.0.0.1:{port}"}} 1' in get(gw, "/metrics")[1].decode()
