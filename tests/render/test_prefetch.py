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
from typing import Any, ClassVar

import pytest
import yaml

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


def test_the_download_reports_progress_in_the_line_the_operator_reads(tmp_path: Path, hub: str) -> None:
    from kubellm.operator.download import parse_progress

    proc = _run(tmp_path, hub)
    assert proc.returncode == 0, proc.stderr
    progress = parse_progress(proc.stdout)
    assert progress.done and progress.percent == 100.0
    assert progress.bytes == len(WEIGHTS) + len(CONFIG)  # every byte downloaded, counted once


def test_a_wrong_checksum_fails_and_leaves_no_marker(tmp_path: Path, hub: str) -> None:
    proc = _run(tmp_path, hub, {"model.safetensors": "0" * 64})
    assert proc.returncode != 0
    assert "sha256 of model.safetensors" in proc.stderr
    assert not (tmp_path / "dest" / MARKER).exists()
    assert not (tmp_path / "dest" / "model.safetensors").exists()


# ---- only what the engine loads ----------------------------------------------------------------------------

LISTINGS = yaml.safe_load((Path(__file__).parent / "data" / "hub_listings.yaml").read_text())


def _select(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key in ("KUBELLM_REPO", "KUBELLM_REVISION", "KUBELLM_DEST"):
        monkeypatch.setenv(key, "unused")
    namespace: dict[str, Any] = {"__name__": "prefetch"}
    exec(PREFETCH_SCRIPT, namespace)  # the script's own function, not a copy of it
    return namespace["select_files"]


def _weight_map(files: list[str]) -> dict[str, str]:
    shards = [f for f in files if f.startswith("model-") and f.endswith(".safetensors")]
    return {f"layer.{i}.weight": shard for i, shard in enumerate(shards)}


@pytest.mark.parametrize("repo", sorted(LISTINGS))
def test_the_prefetch_fetches_only_what_the_engine_loads(repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    select_files = _select(monkeypatch)
    listing = LISTINGS[repo]
    files = list(listing["files"])
    chosen = select_files(files, (), _weight_map(files))
    assert chosen == sorted(listing["loads"])
    assert not any(f.startswith(("original/", "metal/")) or f.endswith(".pth") for f in chosen)
    # without the index the top-level shards still win over a consolidated copy beside them
    no_index = select_files(files)
    assert {f for f in no_index if f.endswith(".safetensors")} >= {
        f for f in chosen if f.endswith(".safetensors")
    }


def test_gpt_oss_20b_fetches_a_third_of_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    select_files = _select(monkeypatch)
    listing = LISTINGS["openai/gpt-oss-20b"]["files"]
    files = list(listing)
    total = sum(listing.values()) / 2**30
    fetched = sum(listing[f] for f in select_files(files, (), _weight_map(files))) / 2**30
    assert total > 38 and fetched < 13.5  # 38.5 GiB in the repository; the rendered cache is 30 GiB
    from kubellm.planning import plan
    from kubellm.spec import LLMService

    spec = LLMService.model_validate({"metadata": {"name": "g"}, "model": {"source": "hf://openai/gpt-oss-20b"},
                                      "gpu": {"type": "H100", "count": 1}})  # fmt: skip
    assert plan(spec).resources.model_cache_gib >= fetched * 1.2


def test_safetensors_win_over_bin_and_bin_is_kept_when_it_is_all_there_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    select_files = _select(monkeypatch)
    both = ["config.json", "model.safetensors", "pytorch_model.bin", "flax_model.msgpack", "model.onnx"]
    assert select_files(both) == ["config.json", "model.safetensors"]
    only_bin = ["config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
                "pytorch_model.bin.index.json", "tf_model.h5"]  # fmt: skip
    assert select_files(only_bin) == ["config.json", "pytorch_model-00001-of-00002.bin",
                                      "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"]  # fmt: skip
    gguf = ["README.md", "Phi-3-mini-4k-instruct-q4.gguf", "Phi-3-mini-4k-instruct-fp16.gguf", "config.json"]
    assert select_files(gguf, ["Phi-3-mini-4k-instruct-q4.gguf"]) == ["Phi-3-mini-4k-instruct-q4.gguf"]


class _RepoWithCopies(_Hub):
    """A repository with an index, an original/ copy and a .pth: only the indexed shards are fetched."""

    index = json.dumps({"weight_map": {"w": "model.safetensors"}}).encode()
    files: ClassVar[dict[str, bytes]] = {**_Hub.files, "model.safetensors.index.json": index,
                                         "consolidated.00.pth": b"x" * 10}  # fmt: skip

    def do_GET(self) -> None:
        if self.path.startswith("/api/models/org/model/revision/abc"):
            siblings = [
                {"rfilename": "model.safetensors", "lfs": {"sha256": self.lfs_sha, "size": len(WEIGHTS)}},
                {"rfilename": "config.json", "blobId": _git_blob(CONFIG), "size": len(CONFIG)},
                {"rfilename": "model.safetensors.index.json", "blobId": _git_blob(self.index)},
                {"rfilename": "original/consolidated.00.pth", "lfs": {"sha256": "0" * 64, "size": 10}},
            ]
            body = json.dumps({"siblings": siblings}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture
def hub_with_copies() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RepoWithCopies)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_real_download_skips_copies_and_says_what_it_left_out(tmp_path: Path, hub_with_copies: str) -> None:
    proc = _run(tmp_path, hub_with_copies)
    assert proc.returncode == 0, proc.stderr
    dest = tmp_path / "dest"
    assert (dest / "model.safetensors").exists() and not (dest / "original").exists()
    assert "not fetched: " in proc.stdout and "original/consolidated.00.pth" in proc.stdout


class _TooBig(_Hub):
    def do_GET(self) -> None:
        if self.path.startswith("/api/models/org/model/revision/abc"):
            huge = 1 << 60
            body = json.dumps(
                {
                    "siblings": [
                        {"rfilename": "model.safetensors", "lfs": {"sha256": self.lfs_sha, "size": huge}}
                    ]
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


def test_a_volume_too_small_fails_before_downloading_and_names_the_field(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TooBig)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = _run(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert proc.returncode != 0 and "storage.size_gib" in proc.stderr
    assert not (tmp_path / "dest" / "model.safetensors").exists()
