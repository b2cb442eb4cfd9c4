"""No secret and no prompt in any log line, including the framework's own; every line is one JSON object.

The gateway runs as a process (`kubellm gateway --config`), as in production; malformed requests that
carry the API key and a prompt are thrown at it, and its captured stderr is grepped for both.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from gateway.conftest import Stack
from gateway.fake_engine import static_pool
from gateway.test_lifecycle import KUBELLM, free_port, wait_ready

KEY = "sk-live-7f3a9c01d2e4b5a6"
PROMPT = "my-private-medical-question-8841"
BODY = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": PROMPT}]}).encode()

MALFORMED = [
    # bare LF line endings (a client or proxy that writes \n only)
    b"POST /v1/chat/completions HTTP/1.1\nHost: x\nAuthorization: Bearer "
    + KEY.encode()
    + b"\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\n\n"
    + BODY,
    # a control character inside Authorization
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    + KEY.encode()
    + b"\x01\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY,
    # a header line with the key longer than the parser accepts
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    + KEY.encode()
    + b"A" * 20000
    + b"\r\n\r\n",
    # a broken chunked body that carries the prompt
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    + KEY.encode()
    + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    + BODY
    + b"\r\n0\r\n\r\n",
    # garbage in the method, the key in the request line itself
    b"P\x00ST /v1/chat/completions?key=" + KEY.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    # a valid request whose JSON body is broken around the prompt
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    + KEY.encode()
    + b"\r\nContent-Length: "
    + str(len(BODY) - 3).encode()
    + b"\r\n\r\n"
    + BODY[:-3],
]


def send_raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


@pytest.mark.parametrize("log_prompts", [False, True])
def test_malformed_requests_leave_no_key_and_no_prompt_in_the_logs(
    stack: Stack, tmp_path: Path, log_prompts: bool
) -> None:
    engine = stack.engine()
    keys = tmp_path / "keys"
    keys.write_text(f"alice:{KEY}\n")
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "GatewayConfig",
                "listen": {"port": port},
                "pools": [static_pool("tiny", [engine.url])],
                "admission": {"api_keys_file": str(keys)},
                "log_prompts": log_prompts,
                "log_level": "debug",
            }
        )
    )
    proc = subprocess.Popen(
        [*KUBELLM, "gateway", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        answers = [send_raw(port, data) for data in MALFORMED]
        time.sleep(0.7)  # audit lines are flushed every 0.5 s
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert all(a.startswith(b"HTTP/1.1 400") or a.startswith(b"HTTP/1.0 400") for a in answers), answers
    text = stderr.decode()
    assert KEY not in text and KEY[:12] not in text
    if not log_prompts:
        assert PROMPT not in text
    lines = text.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines), text[:2000]
    records = [json.loads(line) for line in lines]
    malformed = [r for r in records if r.get("message") == "malformed HTTP request"]
    assert len(malformed) >= 4  # reported, with what was wrong, not silenced
    assert all(r.get("error") for r in malformed)
