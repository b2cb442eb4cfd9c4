"""The listener as a hostile or careless client meets it: slow-loris connections, idle keep-alive,
too many connections, duplicate Authorization, Expect: 100-continue, wrong methods, CORS, the
/metrics surface and the Server header."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from pathlib import Path

import pytest

from gateway.clients import MSG, client, get, post
from gateway.conftest import Stack
from gateway.fake_engine import static_pool

BODY = json.dumps({"model": "tiny", "messages": MSG, "max_tokens": 1}).encode()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the peer closes the connection within ``seconds``; what it sent before closing."""
    sock.settimeout(seconds)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except TimeoutError:
        return False, got
    except ConnectionResetError:
        pass
    return True, got


def test_slow_loris_connections_are_closed_after_header_timeout_s(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "listen": {"port": 0, "header_timeout_s": 0.5}}
    )
    socks = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", port_of(gw)))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never more
        socks.append(sock)
    time.sleep(0.4)
    for sock in socks[:25]:
        sock.sendall(b"a")  # dripping bytes does not extend the deadline
    results = [closed_within(sock, 2.5) for sock in socks]
    for sock in socks:
        sock.close()
    assert all(closed for closed, _ in results)
    assert all(got.startswith(b"HTTP/1.1 408") for _, got in results)
    assert post(gw, "/v1/chat/completions", BODY)[0] == 200


def test_a_body_that_never_arrives_is_cut_after_body_timeout_s(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "listen": {"port": 0, "body_timeout_s": 0.5}}
    )
    sock = socket.create_connection(("127.0.0.1", port_of(gw)))
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
    closed, got = closed_within(sock, 3)
    sock.close()
    assert closed and got.startswith(b"HTTP/1.1 408")
    assert engine.requests == 0


def test_idle_keep_alive_connections_are_closed_after_idle_timeout_s(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "listen": {"port": 0, "idle_timeout_s": 0.5}}
    )
    conn = http.client.HTTPConnection("127.0.0.1", port_of(gw), timeout=5)
    conn.request("POST", "/v1/chat/completions", body=BODY, headers={"Content-Type": "application/json"})
    assert conn.getresponse().read()
    assert conn.sock is not None
    closed, _ = closed_within(conn.sock, 2.5)
    conn.close()
    silent = socket.create_connection(("127.0.0.1", port_of(gw)))  # connects and never speaks
    assert closed_within(silent, 2.5)[0]
    silent.close()
    assert closed


def test_connections_beyond_max_connections_get_503_and_a_log_line(
    stack: Stack, records: list[logging.LogRecord]
) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "listen": {"port": 0, "max_connections": 5}}
    )
    held = [socket.create_connection(("127.0.0.1", port_of(gw))) for _ in range(5)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", port_of(gw)))
    closed, got = closed_within(extra, 3)
    extra.close()
    assert closed and got.startswith(b"HTTP/1.1 503") and b"Retry-After: " in got
    assert any("connection limit" in r.getMessage() for r in records)
    for sock in held:
        sock.close()
    time.sleep(0.2)
    assert post(gw, "/v1/chat/completions", BODY)[0] == 200


def test_two_authorization_headers_are_a_400(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]}, keys={"a": "ka", "b": "kb"})
    conn = http.client.HTTPConnection("127.0.0.1", port_of(gw), timeout=5)
    conn.putrequest("POST", "/v1/chat/completions")
    conn.putheader("Authorization", "Bearer ka")
    conn.putheader("Authorization", "Bearer nope")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(BODY)))
    conn.endheaders(BODY)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 400 and body["error"]["param"] == "Authorization"
    assert engine.requests == 0


def expect_continue(port: int, key: str, length: int = len(BODY)) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        return sock.recv(4096)


def test_expect_100_continue_is_answered_only_after_the_key_and_size_checks(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "admission": {"max_body_bytes": 4096}},
        keys={"a": "ka"},
    )
    assert expect_continue(port_of(gw), "wrong").startswith(b"HTTP/1.1 401")
    assert expect_continue(port_of(gw), "ka", length=10_000).startswith(b"HTTP/1.1 413")
    assert expect_continue(port_of(gw), "ka").startswith(b"HTTP/1.1 100 Continue")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/chat/completions", "POST"),
        ("GET", "/v1/completions", "POST"),
        ("DELETE", "/v1/embeddings", "POST"),
        ("TRACE", "/v1/models", "GET, HEAD"),
        ("POST", "/health", "GET, HEAD"),
        ("PUT", "/metrics", "GET, HEAD"),
    ],
)
def test_wrong_methods_get_405_with_allow(stack: Stack, method: str, path: str, allow: str) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]})
    conn = http.client.HTTPConnection("127.0.0.1", port_of(gw), timeout=5)
    conn.request(method, path)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 405 and resp.getheader("Allow") == allow
    assert body["error"]["code"] == "method_not_allowed"
    status, raw = get(gw, "/v2/nothing")
    assert status == 404 and json.loads(raw)["error"]["code"] == "not_found"


def test_cors_is_off_unless_configured(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]})
    status, headers, _ = post(gw, "/v1/chat/completions", BODY, {"Origin": "https://app.example.com"})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_cors_preflight_and_answers_for_allowed_origins(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [engine.url])],
            "cors": {"allow_origins": ["https://app.example.com"]},
        },
        keys={"a": "ka"},
    )
    conn = http.client.HTTPConnection("127.0.0.1", port_of(gw), timeout=5)
    conn.request(
        "OPTIONS",
        "/v1/chat/completions",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 204  # a preflight needs no key
    assert resp.getheader("Access-Control-Allow-Origin") == "https://app.example.com"
    assert "POST" in (resp.getheader("Access-Control-Allow-Methods") or "")
    assert "authorization" in (resp.getheader("Access-Control-Allow-Headers") or "").lower()
    assert resp.getheader("Vary") == "Origin"
    status, headers, _ = post(
        gw, "/v1/chat/completions", BODY, {"Origin": "https://app.example.com", "Authorization": "Bearer ka"}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    status, headers, _ = post(
        gw, "/v1/chat/completions", BODY, {"Origin": "https://evil.example", "Authorization": "Bearer ka"}
    )
    assert "Access-Control-Allow-Origin" not in headers


def test_metrics_show_no_key_ids_or_backend_urls_by_default(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]}, keys={"alice-corp": "sk-a"})
    client(gw, "sk-a").chat.completions.create(model="tiny", messages=MSG, max_tokens=2)  # type: ignore[arg-type]
    text = get(gw, "/metrics")[1].decode()
    assert "alice-corp" not in text and engine.url not in text and "127.0.0.1" not in text
    assert 'kubellm_gateway_tokens_total{direction="out"} 2' in text
    assert 'kubellm_gateway_backend_up{pool="tiny",backend="tiny/0"} 1' in text


def test_metrics_labels_can_be_chosen(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway(
        {
            "pools": [static_pool("tiny", [engine.url])],
            "metrics": {"expose_key_ids": True, "expose_backend_urls": True},
        },
        keys={"alice-corp": "sk-a"},
    )
    client(gw, "sk-a").chat.completions.create(model="tiny", messages=MSG, max_tokens=2)  # type: ignore[arg-type]
    text = get(gw, "/metrics")[1].decode()
    assert 'kubellm_gateway_tokens_total{key="alice-corp",direction="out"} 2' in text
    assert f'backend="{engine.url}"' in text


def test_metrics_behind_a_bearer_token(stack: Stack, tmp_path: Path) -> None:
    engine = stack.engine()
    token = tmp_path / "token"
    token.write_text("scrape-me\n")
    gw = stack.gateway(
        {"pools": [static_pool("tiny", [engine.url])], "metrics": {"bearer_token_file": str(token)}}
    )
    assert get(gw, "/metrics")[0] == 401
    conn = http.client.HTTPConnection("127.0.0.1", port_of(gw), timeout=5)
    conn.request("GET", "/metrics", headers={"Authorization": "Bearer scrape-me"})
    resp = conn.getresponse()
    assert resp.status == 200 and b"kubellm_gateway_requests_total" in resp.read()
    conn.close()
    assert get(gw, "/health")[0] == 200


def test_metrics_on_a_separate_port(stack: Stack) -> None:
    engine = stack.engine()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])], "metrics": {"port": metrics_port}})
    assert get(gw, "/metrics")[0] == 404
    status, text = get(f"http://127.0.0.1:{metrics_port}", "/metrics")
    assert status == 200 and b"kubellm_gateway_requests_total" in text


def test_no_response_names_python_or_aiohttp(stack: Stack) -> None:
    engine = stack.engine()
    gw = stack.gateway({"pools": [static_pool("tiny", [engine.url])]}, keys={"a": "ka"})
    port = port_of(gw)
    seen = []
    for method, path, headers, body in [
        ("POST", "/v1/chat/completions", {"Authorization": "Bearer ka"}, BODY),
        ("POST", "/v1/chat/completions", {}, BODY),
        ("GET", "/health", {}, None),
        ("GET", "/metrics", {}, None),
        ("GET", "/v1/models", {"Authorization": "Bearer ka"}, None),
        ("GET", "/nothing", {}, None),
        ("PUT", "/v1/models", {}, None),
    ]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        seen.append(resp.getheader("Server"))
        conn.close()
    stream_body = json.dumps({"model": "tiny", "messages": MSG, "stream": True}).encode()
    _, headers, _ = post(gw, "/v1/chat/completions", stream_body, {"Authorization": "Bearer ka"})
    seen.append(headers.get("Server"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\nHost: x\n\n")  # malformed: the framework's own 400
        seen.append(sock.recv(4096).split(b"Server: ")[1].split(b"\r\n")[0].decode())
    assert seen == ["kubellm"] * len(seen)


def test_the_open_file_limit_caps_connections_and_is_logged(stack: Stack, tmp_path: Path) -> None:
    """With 64 file descriptors, connections beyond what the limit allows get a 503 and a log line
    instead of a silent accept failure; the gateway keeps serving."""
    import os
    import resource
    import signal
    import subprocess

    import yaml

    from gateway.test_lifecycle import KUBELLM, free_port, wait_ready

    engine = stack.engine()
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "GatewayConfig",
                "listen": {"port": port, "max_connections": 1000},  # more than 64 fds allow: clamped
                "pools": [static_pool("tiny", [engine.url])],
            }
        )
    )

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc = subprocess.Popen(
        [*KUBELLM, "gateway", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=low_limit,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
        answers = [closed_within(sock, 0.3) for sock in socks]
        refused = [got for closed, got in answers if closed]
        for sock in socks:
            sock.close()
        time.sleep(0.3)
        assert post(base, "/v1/chat/completions", BODY)[0] == 200
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert refused and all(got.startswith(b"HTTP/1.1 503") for got in refused)
    assert len(refused) <= 80 - 16  # some were served: the cap is about half the limit
    records = [json.loads(line) for line in stderr.decode().splitlines()]
    assert any("open-file limit" in r["message"] for r in records if r["level"] == "warning")
    assert any("connection limit" in r["message"] for r in records)
