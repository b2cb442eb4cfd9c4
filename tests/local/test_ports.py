"""Ports: a busy gateway port is a clear error that names a port free right now."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from kubellm.errors import UsageError
from kubellm.local.ports import ensure_port_free, free_port, next_free_port, port_is_free


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_listening_port_is_not_free(busy_port: int) -> None:
    assert not port_is_free(busy_port)


def test_a_port_from_the_kernel_is_free() -> None:
    assert port_is_free(free_port())


def test_busy_port_error_names_a_free_port_and_the_flag(busy_port: int) -> None:
    with pytest.raises(UsageError) as caught:
        ensure_port_free(busy_port)
    assert f"port {busy_port}" in caught.value.what
    suggested = re.search(r"--port (\d+)", caught.value.fix)
    assert suggested is not None
    assert int(suggested.group(1)) != busy_port
    assert port_is_free(int(suggested.group(1)))
    assert caught.value.exit_code == 2


def test_next_free_port_skips_the_busy_one(busy_port: int) -> None:
    assert next_free_port(busy_port) != busy_port


def test_out_of_range_port_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="out of range"):
        ensure_port_free(70000)
