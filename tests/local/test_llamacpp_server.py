"""The llama.cpp server wrapper accepts request ids that are not UUIDs (gateways send their own)."""

from __future__ import annotations

import importlib.util

import pytest

from kubellm.local.llamacpp_server import accept_any_request_id

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("starlette_context") is None,
    reason="llama-cpp-python's server extra (starlette-context) is not installed; run scripts/install-llamacpp",
)


def test_a_gateway_style_request_id_passes_after_the_patch() -> None:
    from starlette_context.errors import WrongUUIDError
    from starlette_context.plugins import RequestIdPlugin

    plugin = RequestIdPlugin()
    try:
        plugin.validate_uuid("f86a1098-1")
        pytest.fail("starlette-context accepted a non-UUID id without the patch; the wrapper may be unneeded")
    except WrongUUIDError:
        pass
    accept_any_request_id()
    plugin.validate_uuid("f86a1098-1")  # no longer raises
