"""The copy-paste lines `kubellm up` prints once ready."""

from __future__ import annotations

import json
import shlex

from kubellm.local.hints import curl_line, openai_snippet


def test_curl_line_is_one_valid_shell_command_with_a_json_body() -> None:
    words = shlex.split(curl_line("http://127.0.0.1:8000/v1", "qwen3-0.6b", None))
    assert words[:2] == ["curl", "http://127.0.0.1:8000/v1/chat/completions"]
    body = json.loads(words[words.index("-d") + 1])
    assert body["model"] == "qwen3-0.6b"
    assert not any(w.startswith("Authorization") for w in words)


def test_curl_line_sends_the_key_when_there_is_one() -> None:
    words = shlex.split(curl_line("http://127.0.0.1:8000/v1", "m", "sk-local-1"))
    assert "Authorization: Bearer sk-local-1" in words


def test_openai_snippet_is_python_that_names_the_endpoint_and_model() -> None:
    snippet = openai_snippet("http://127.0.0.1:8000/v1", "m", "sk-x")
    compile(snippet, "<snippet>", "exec")
    assert 'base_url="http://127.0.0.1:8000/v1"' in snippet and 'model="m"' in snippet and "sk-x" in snippet
