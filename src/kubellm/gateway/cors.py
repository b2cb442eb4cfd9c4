"""Cross-origin access for browser clients: pure functions from a request's Origin to the headers.

Off unless the config has a ``cors`` section: without Access-Control-* headers browsers refuse
cross-origin calls, which is the safe default for an API that takes keys.
"""

from __future__ import annotations

from kubellm.spec.gateway import CorsConfig

ALLOWED_METHODS = "GET, POST, OPTIONS"


def allowed_origin(config: CorsConfig, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for ``origin``, or None when it may not call."""
    if not origin:
        return None
    if "*" in config.allow_origins:
        return "*"
    return origin if origin in config.allow_origins else None


def answer_headers(config: CorsConfig, origin: str | None) -> dict[str, str]:
    """Headers added to an ordinary answer for ``origin`` (none when it is not allowed)."""
    allowed = allowed_origin(config, origin)
    if allowed is None:
        return {}
    headers = {"Access-Control-Allow-Origin": allowed, "Vary": "Origin"}
    if config.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(config.expose_headers)
    return headers


def preflight_headers(
    config: CorsConfig, origin: str | None, method: str | None, request_headers: str | None
) -> dict[str, str] | None:
    """Headers of a preflight answer (204), or None when the preflight must be refused."""
    allowed = allowed_origin(config, origin)
    if allowed is None or method is None or method.upper() not in ("GET", "POST"):
        return None
    permitted = {h.lower() for h in config.allow_headers}
    wanted = [h.strip().lower() for h in (request_headers or "").split(",") if h.strip()]
    if any(h not in permitted for h in wanted):
        return None
    return {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ", ".join(config.allow_headers),
        "Access-Control-Max-Age": str(config.max_age_s),
        "Vary": "Origin",
    }
