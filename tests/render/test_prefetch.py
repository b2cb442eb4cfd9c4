"""The prefetch script against a real HTTP server on 127.0.0.1 that speaks the Hub's API."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from kubellm.render.prefetch import MARKER, PREFETCH_SCRIPT

WEIGHTS = b"\x00\x01weights" * 1000
CONFIG = b'{"model_type": "llama"}'


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Hub(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {"model.safetensors": WEIGHTS, "config.json": CONFIG}
    lfs_sha = hashlib.sha256(WEIGHTS).hexdigest()

    def do_GET(self) -> None:
        if self.path.startswith("/api/models/org/model/revision/abc"):
            siblings = [
                {"rfilename": "model.safetensors", "lfs": {"sha256": self.lfs_sha}},
                {"rfilename": "config.json", "blobId": _git_blob(CONFIG)},
                {"rfilename": "README.md"},
            ]
            body = json.dumps({"siblings": siblings}).encode()
        elif self.path.startswith("/org/model/resolve/abc/"):
            body = self.files[self.path.rsplit("/", 1)[-1]]
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run(
    tmp_path: Path, endpoint: str, checksums: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "prefetch.py"
    script.write_text(PREFETCH_SCRIPT)
    env = {
        **os.environ,
        "KUBELLM_REPO": "org/model",
        "KUBELLM_REVISION": "abc",
        "KUBELLM_DEST": str(tmp_path / "dest"),
        "KUBELLM_CHECKSUMS": json.dumps(checksums or {}),
        "HF_ENDPOINT": endpoint,
    }
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_downloads_verifies_and_marks_the_revision(tmp_path: Path, hub: str) -> None:
    proc = _run(tmp_path, hub)
    assert proc.returncode == 0, proc.stderr
    dest = tmp_path / "dest"
    assert (dest / "model.safetensors").read_bytes() == WEIGHTS
    assert (dest / MARKER).exists() and not (dest / "README.md").exists()
    again = _run(tmp_path, hub)
    assert "already verified" in again.stdout


def test_a_wrong_checksum_fails_and_leaves_no_marker(tmp_path: Path, hub: str) -> None:
    proc = _run(tmp_path, hub, {"model.safetensors": "0" * 64})
    assert proc.returncode != 0
    assert "sha256 of model.safetensors" in proc.stderr
    assert not (tmp_path / "dest" / MARKER).exists()
    assert not (tmp_path / "dest" / "model.safetensors").exists()
