"""`kubellm up` with a real CPU engine: a tiny GGUF built here, served by llama.cpp behind the gateway."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.support import UpProcess, all_gone, start_up
from e2e.tiny_gguf import build_tiny_gguf
from kubellm.local.environment import LLAMA_CPP_SERVER_MODULES

_MISSING = [
    m for m in ("llama_cpp", "gguf", *LLAMA_CPP_SERVER_MODULES) if importlib.util.find_spec(m) is None
]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"llama.cpp engine not installed (missing {', '.join(_MISSING)}); run scripts/install-llamacpp",
    ),
]

SPEC = """\
apiVersion: kubellm.dev/v1alpha1
kind: LLMService
metadata:
  name: tiny
model:
  source: tiny-llama.gguf
serving:
  max_model_len: 256
scaling:
  min_replicas: 1
"""


@pytest.fixture(scope="module")
def llama_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    folder = tmp_path_factory.mktemp("llama")
    build_tiny_gguf(folder / "tiny-llama.gguf")
    (folder / "tiny.yaml").write_text(SPEC)
    up = start_up([str(folder / "tiny.yaml")], folder)
    yield up
    up.stop()
    assert all_gone(up.child_pids) == []


def client(up: UpProcess) -> object:
    from openai import OpenAI

    return OpenAI(base_url=up.info["endpoint"], api_key="unused", max_retries=0, timeout=60)


def test_a_gguf_model_is_served_by_llama_cpp_and_up_says_why(llama_stack: UpProcess) -> None:
    assert llama_stack.info["engine"] == "llamacpp"
    assert "GGUF" in llama_stack.info["reason"]
    assert llama_stack.info["served_name"] == "tiny-llama"  # the file's stem
    assert "not planned" in llama_stack.info["plan_note"]  # a random model is in no catalog: engine defaults


def test_chat_completion_from_llama_cpp_through_the_gateway(llama_stack: UpProcess) -> None:
    reply = client(llama_stack).chat.completions.create(  # type: ignore[attr-defined]
        model="tiny-llama", messages=[{"role": "user", "content": "hello world"}], max_tokens=6, temperature=0
    )
    assert reply.choices[0].message.content
    assert reply.usage.completion_tokens == 6
    assert reply.usage.prompt_tokens > 1


def test_streamed_completion_from_llama_cpp_through_the_gateway(llama_stack: UpProcess) -> None:
    stream = client(llama_stack).completions.create(  # type: ignore[attr-defined]
        model="tiny-llama", prompt="the model", max_tokens=5, temperature=0, stream=True
    )
    text = "".join(chunk.choices[0].text for chunk in stream if chunk.choices)
    assert text


def test_llama_cpp_log_is_in_the_run_directory(llama_stack: UpProcess) -> None:
    log = Path(llama_stack.info["run_dir"]) / "engine-0.log"
    assert "llama" in log.read_text(errors="replace").lower()
