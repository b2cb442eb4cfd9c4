"""kubellm gateway: an OpenAI-compatible router with admission control, LLM-aware routing and scale-from-zero.

Modules: ``routing`` (pure policies), ``admission`` (keys, rates, concurrency), ``payload`` (request
and usage parsing), ``pools`` (live backend state), ``discovery`` and ``health`` (membership, probes,
engine load), ``proxy`` (the request path), ``metrics`` and ``logs``, ``config`` and ``server``.
"""

from kubellm.gateway.server import Gateway, run_gateway, serve

__all__ = ["Gateway", "run_gateway", "serve"]
