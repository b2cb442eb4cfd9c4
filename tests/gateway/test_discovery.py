"""Discovery: EndpointSlices (pure selection and the thin client against a local API), DNS, static."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from kubellm.gateway.discovery import (
    DnsDiscovery,
    EndpointSliceDiscovery,
    StaticDiscovery,
    urls_from_endpointslices,
)
from kubellm.spec.gateway import DnsBackends, EndpointSliceBackends

SLICES = json.loads((Path(__file__).parent / "data" / "endpointslices.json").read_text())


def test_ready_endpoints_on_the_named_port() -> None:
    # not-ready and terminating endpoints are skipped; unset 'ready' counts as ready (API semantics)
    assert urls_from_endpointslices(SLICES, "http", "http") == [
        "http://10.244.1.17:8000",
        "http://10.244.4.21:8000",
        "http://10.244.5.33:8000",
    ]


def test_first_port_when_unnamed_and_ipv6_brackets() -> None:
    urls = urls_from_endpointslices(SLICES, None, "http")
    assert "http://10.244.1.17:9090" in urls and "http://10.244.5.33:8000" in urls
    v6 = {"items": [{"ports": [{"port": 80}], "endpoints": [{"addresses": ["fd00::1"]}]}]}
    assert urls_from_endpointslices(v6, None, "https") == ["https://[fd00::1]:80"]


def test_garbage_lists_give_no_urls() -> None:
    assert urls_from_endpointslices({"items": [None, {"ports": "x"}, {}]}, None, "http") == []


def test_endpointslice_client_lists_with_token_and_selector(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc123\n")
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["path"] = request.path
        seen["selector"] = request.query.get("labelSelector")
        seen["auth"] = request.headers.get("Authorization")
        return web.json_response(SLICES)

    async def scenario() -> list[str]:
        app = web.Application()
        app.router.add_get("/apis/discovery.k8s.io/v1/namespaces/llm/endpointslices", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            discovery = EndpointSliceDiscovery(
                EndpointSliceBackends(namespace="llm", service="llama-8b-engine", port_name="http"),
                api_base=f"http://127.0.0.1:{port}",
                token_path=token,
                ca_path=tmp_path / "none",
            )
            return await discovery.resolve()
        finally:
            await runner.cleanup()

    urls = asyncio.run(scenario())
    assert urls == ["http://10.244.1.17:8000", "http://10.244.4.21:8000", "http://10.244.5.33:8000"]
    assert seen == {
        "path": "/apis/discovery.k8s.io/v1/namespaces/llm/endpointslices",
        "selector": "kubernetes.io/service-name=llama-8b-engine",
        "auth": "Bearer abc123",
    }


def test_dns_resolves_every_address() -> None:
    urls = asyncio.run(DnsDiscovery(DnsBackends(name="localhost", port=8000)).resolve())
    assert "http://127.0.0.1:8000" in urls


def test_static_is_static() -> None:
    discovery = StaticDiscovery(["http://a:1"])
    assert asyncio.run(discovery.resolve()) == ["http://a:1"] and discovery.refresh_s is None
