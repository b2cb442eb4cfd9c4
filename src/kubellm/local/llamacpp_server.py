"""llama-cpp-python's OpenAI server, started so that it accepts any ``X-Request-Id``.

llama-cpp-python's server (``python -m llama_cpp.server``) checks the ``X-Request-Id`` header with
starlette-context's RequestIdPlugin, which accepts only UUIDs and answers anything else with an empty
400 — while gateways, the kubellm gateway among them, send request ids of their own shape. This module
turns that check off and then runs the server's own entry point with the same arguments.

Run as ``python -m kubellm.local.llamacpp_server --model FILE …`` (every ``llama_cpp.server`` flag).
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported by name: llama-cpp-python and its server extra are optional (and may be absent where mypy runs).
_PLUGINS = "starlette_context.plugins"
_SERVER_MAIN = "llama_cpp.server.__main__"


def _keep_any_id(self: Any, uuid_to_validate: str) -> None:
    """Stands in for RequestIdPlugin.validate_uuid: every id is accepted as sent."""


def accept_any_request_id() -> None:
    """Make starlette-context keep whatever request id the caller sent, UUID or not."""
    plugins: Any = importlib.import_module(_PLUGINS)
    plugins.RequestIdPlugin.validate_uuid = _keep_any_id


def main() -> None:
    accept_any_request_id()
    server: Any = importlib.import_module(_SERVER_MAIN)
    server.main()


if __name__ == "__main__":
    main()
