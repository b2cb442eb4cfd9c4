"""CORS decisions as pure functions: which origins, methods and headers a preflight allows."""

from __future__ import annotations

import pytest

from kubellm.gateway.cors import allowed_origin, answer_headers, preflight_headers
from kubellm.spec.gateway import CorsConfig

APP = "https://app.example.com"
CONFIG = CorsConfig(allow_origins=[APP])


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        (APP, APP),
        ("https://app.example.com.evil.net", None),
        ("http://app.example.com", None),
        (None, None),
        ("", None),
    ],
)
def test_only_listed_origins_are_allowed_exactly(origin: str | None, expected: str | None) -> None:
    assert allowed_origin(CONFIG, origin) == expected


def test_a_wildcard_allows_any_origin() -> None:
    assert allowed_origin(CorsConfig(allow_origins=["*"]), "https://x.example") == "*"
    assert allowed_origin(CorsConfig(allow_origins=["*"]), None) is None  # not a cross-origin request


@pytest.mark.parametrize(
    ("method", "headers", "ok"),
    [
        ("POST", "authorization, content-type", True),
        ("post", "Authorization", True),
        ("GET", None, True),
        ("PUT", None, False),
        (None, None, False),
        ("POST", "authorization, x-evil", False),
    ],
)
def test_preflight_checks_method_and_headers(method: str | None, headers: str | None, ok: bool) -> None:
    answer = preflight_headers(CONFIG, APP, method, headers)
    assert (answer is not None) == ok
    if answer is not None:
        assert answer["Access-Control-Allow-Origin"] == APP and answer["Access-Control-Max-Age"] == "600"


def test_answers_carry_the_origin_only_when_allowed() -> None:
    assert answer_headers(CONFIG, APP)["Access-Control-Expose-Headers"] == "x-request-id, retry-after"
    assert answer_headers(CONFIG, "https://evil.example") == {}
