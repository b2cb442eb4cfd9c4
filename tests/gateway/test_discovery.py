"""Discovery: which EndpointSlice addresses count (pure, on recorded objects), DNS, static.
The EndpointSlice watch has its own module, test_endpointslice_watch.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from kubellm.gateway.discovery import DnsDiscovery, StaticDiscovery, urls_from_endpointslices
from kubellm.spec.gateway import DnsBackends

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


def test_dns_resolves_every_address() -> None:
    urls = asyncio.run(DnsDiscovery(DnsBackends(name="localhost", port=8000)).resolve())
    assert "http://127.0.0.1:8000" in urls


def test_static_is_static() -> None:
    discovery = StaticDiscovery(["http://a:1"])
    assert asyncio.run(discovery.resolve()) == ["http://a:1"] and discovery.refresh_s is None
