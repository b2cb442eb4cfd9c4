"""The gateway config: what `kubellm gateway --config` reads and `render` writes as a ConfigMap.

One file describes the listener, the pools of engine endpoints per served model (with aliases,
discovery, routing policy, fallback and long-context pools), admission control (API keys and
limits), timeouts, retries, health checks and logging. Every field has a description and a default a
careful operator would choose; ``model_dump(mode="json")`` gives the plain shape that goes into YAML.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from kubellm.spec.base import StrictModel

GATEWAY_KIND: Literal["GatewayConfig"] = "GatewayConfig"
GATEWAY_API_VERSION: Literal["kubellm.dev/v1alpha1"] = "kubellm.dev/v1alpha1"

RoutingPolicy = Literal[
    "round-robin", "least-outstanding", "power-of-two", "prefix-affinity", "session-affinity"
]
ROUTING_POLICIES: tuple[str, ...] = (
    "round-robin",
    "least-outstanding",
    "power-of-two",
    "prefix-affinity",
    "session-affinity",
)


class ListenConfig(StrictModel):
    """Where the gateway listens, and TLS termination."""

    host: str = Field(
        default="127.0.0.1",
        description="Address to bind; 0.0.0.0 in a pod. Without API keys, listening beyond loopback logs a warning.",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port to bind (0 = any free port).")
    tls_cert: str | None = Field(
        default=None, description="PEM certificate chain file; set with tls_key to serve HTTPS."
    )
    tls_key: str | None = Field(default=None, description="PEM private key file matching tls_cert.")
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Time a client has to finish sending a request head once it started (slow-loris "
        "protection); then 408 and the connection is closed.",
    )
    body_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Time a client has to send the request body once its head arrived; then 408 and close.",
    )
    idle_timeout_s: float = Field(
        default=75.0,
        gt=0,
        description="Keep-alive connections with no request in flight, and new connections that send "
        "nothing, are closed after this long.",
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        description="Open client connections at most; a connection beyond it gets 503 with Retry-After "
        "and is closed (and a log line says so). Unset = half the process's open-file limit, leaving "
        "the rest for engine connections; a larger value is lowered to that, with a warning.",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> ListenConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both to serve HTTPS, or neither")
        return self


class StaticBackends(StrictModel):
    """A fixed list of engine base URLs."""

    kind: Literal["static"] = Field(default="static", description="Discovery kind: a fixed list of URLs.")
    urls: list[str] = Field(
        default_factory=list,
        description="Engine base URLs without '/v1', e.g. 'http://10.0.0.5:8000'. Empty = scale-from-zero until "
        "backends are added.",
    )

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL; write e.g. 'http://10.0.0.5:8000'")
        return [url.rstrip("/").removesuffix("/v1") for url in urls]


class DnsBackends(StrictModel):
    """Endpoints from the A/AAAA records of a headless Service, re-resolved periodically."""

    kind: Literal["dns"] = Field(default="dns", description="Discovery kind: DNS of a headless Service.")
    name: str = Field(description="DNS name to resolve, e.g. 'llama-8b-engine.llm.svc.cluster.local'.")
    port: int = Field(ge=1, le=65535, description="Engine port on each resolved address.")
    scheme: Literal["http", "https"] = Field(default="http", description="URL scheme used for the engines.")
    refresh_s: float = Field(default=5.0, gt=0, description="Seconds between re-resolutions.")


class EndpointSliceBackends(StrictModel):
    """Ready endpoints from the Kubernetes EndpointSlices of a Service, watched through the API (the pod's
    service account in a cluster, else the kubeconfig; RBAC: list and watch on endpointslices)."""

    kind: Literal["endpointslices"] = Field(
        default="endpointslices", description="Discovery kind: Kubernetes EndpointSlices of a Service."
    )
    namespace: str = Field(description="Namespace of the Service.")
    service: str = Field(description="Service name (label kubernetes.io/service-name on its EndpointSlices).")
    port_name: str | None = Field(
        default=None, description="Name of the port to use; unset = the slice's first port."
    )
    scheme: Literal["http", "https"] = Field(default="http", description="URL scheme used for the engines.")
    watch_timeout_s: int = Field(
        default=300,
        ge=10,
        description="How long one watch request stays open before it is renewed from the last version "
        "(the API server's timeoutSeconds).",
    )
    refresh_s: float | None = Field(
        default=None,
        gt=0,
        description="Ignored: EndpointSlices are watched, not polled (kept so that older configs load).",
    )


Backends = Annotated[StaticBackends | DnsBackends | EndpointSliceBackends, Field(discriminator="kind")]


class LongContextRoute(StrictModel):
    """Length-aware routing: long jobs go to their own pool so they do not queue short ones."""

    pool: str = Field(description="Name of the pool that takes long requests.")
    threshold_tokens: int = Field(
        ge=1, description="Estimated prompt tokens plus max_tokens above which a request goes to that pool."
    )


class PoolConfig(StrictModel):
    """The engine endpoints that serve one model name, and how requests are spread over them."""

    name: str = Field(description="Served model name clients send in 'model' (also listed by /v1/models).")
    aliases: list[str] = Field(default_factory=list, description="Other model names that map to this pool.")
    upstream_model: str | None = Field(
        default=None,
        description="Model name the engines expect; unset = forward the client's name unchanged (aliases are "
        "rewritten to 'name').",
    )
    backends: Backends = Field(
        default_factory=StaticBackends, description="Where the pool's engines are found."
    )
    routing: RoutingPolicy = Field(
        default="least-outstanding", description="How requests are spread over backends."
    )
    session_header: str = Field(
        default="x-session-id",
        description="Header that carries the session id for session-affinity (falls back to the body's 'user').",
    )
    prefix_chars: int = Field(
        default=256, ge=1, description="Characters at the start of the prompt hashed by prefix-affinity."
    )
    load_bound: float = Field(
        default=1.25,
        gt=1.0,
        description="Bounded-load factor of prefix/session affinity: no backend takes more than this times the "
        "mean outstanding requests (plus one).",
    )
    max_outstanding_per_backend: int | None = Field(
        default=None,
        ge=1,
        description="In-flight requests per backend beyond which the pool counts as saturated and spills to "
        "fallback_pool; unset = never saturated.",
    )
    fallback_pool: str | None = Field(
        default=None,
        description="Pool that takes requests when this one is saturated or has no healthy backend.",
    )
    long_context: LongContextRoute | None = Field(
        default=None, description="Send requests above a token threshold to another pool; unset = off."
    )
    metrics_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between scrapes of each engine's /metrics (power-of-two uses waiting, running, KV use).",
    )
    cold_start_timeout_s: float | None = Field(
        default=None, gt=0, description="Override of the gateway-wide cold_start_timeout_s for this pool."
    )
    health_path: str | None = Field(
        default=None,
        pattern=r"^/",
        description="Path the active health checks probe on this pool's backends (200 = healthy), for "
        "engines whose route differs (Triton's /health/ready beside vLLM's /health); unset = "
        "health_checks.path.",
    )
    scale_from_zero: bool | None = Field(
        default=None,
        description="Hold requests (up to cold_start_timeout_s) while no backend is available, because "
        "the engines scale to zero and come back; false answers 503 with Retry-After at once. Unset = "
        "true for discovered backends (dns, endpointslices), false for static URLs.",
    )


class KeyLimits(StrictModel):
    """Limits for one API key id (overrides the defaults of the admission section)."""

    requests_per_minute: int | None = Field(
        default=None, ge=1, description="Requests per minute; unset = default."
    )
    tokens_per_minute: int | None = Field(
        default=None, ge=1, description="Tokens per minute; unset = default."
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, description="In-flight requests; unset = default."
    )
    priority_class: str | None = Field(
        default=None, description="Priority class name; unset = default class."
    )
    models: list[str] | None = Field(
        default=None,
        description="Model names (or aliases) this key may use (403 otherwise); unset = every model.",
    )


class PriorityClass(StrictModel):
    """A named priority for the wait queue: higher values are served first."""

    name: str = Field(description="Class name referred to by keys (e.g. 'interactive', 'batch').")
    priority: int = Field(description="Higher runs first when requests wait for a concurrency slot.")


class AdmissionConfig(StrictModel):
    """Who may call, and how much."""

    api_keys_file: str | None = Field(
        default=None,
        description="File of 'id:key' lines (a mounted Secret works); keys are hashed on load. Unset = open gateway.",
    )
    requests_per_minute: int | None = Field(
        default=None, ge=1, description="Per-key requests/min; unset = no limit."
    )
    tokens_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="Per-key tokens/min (estimate charged, corrected by usage); unset = no limit.",
    )
    max_concurrency_per_key: int | None = Field(
        default=None, ge=1, description="In-flight requests per key; unset = no limit."
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, description="In-flight requests over the whole gateway; unset = no limit."
    )
    queue_size: int = Field(
        default=256, ge=0, description="Requests that may wait for a concurrency slot; beyond it answer 429."
    )
    queue_timeout_s: float = Field(default=30.0, gt=0, description="Longest wait for a slot before a 503.")
    priority_classes: list[PriorityClass] = Field(
        default_factory=lambda: [PriorityClass(name="default", priority=0)],
        description="Wait-queue classes; keys pick one in 'keys'.",
    )
    default_priority_class: str = Field(default="default", description="Class of keys that do not name one.")
    keys: dict[str, KeyLimits] = Field(
        default_factory=dict, description="Per-key-id limits and priority class."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest request body accepted (413)."
    )
    max_prompt_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Largest estimated prompt (about 4 characters a token); unset = no limit.",
    )
    max_tokens_cap: int | None = Field(
        default=None, ge=1, description="Upper bound on 'max_tokens' (lowered, not rejected); unset = none."
    )

    @model_validator(mode="after")
    def _classes_known(self) -> AdmissionConfig:
        names = {c.name for c in self.priority_classes}
        wanted = {self.default_priority_class} | {
            k.priority_class for k in self.keys.values() if k.priority_class
        }
        unknown = sorted(wanted - names)
        if unknown:
            raise ValueError(f"unknown priority class(es) {unknown}; define them in priority_classes")
        return self


class TimeoutConfig(StrictModel):
    """Time limits on each upstream request."""

    connect_s: float = Field(default=5.0, gt=0, description="Connecting to an engine.")
    first_byte_s: float = Field(
        default=120.0,
        gt=0,
        description="From sending the request to the response headers (covers queue + prefill).",
    )
    between_chunks_s: float = Field(
        default=60.0, gt=0, description="Longest silence between streamed chunks."
    )
    total_s: float = Field(default=600.0, gt=0, description="Whole request, first byte to last.")


class RetryConfig(StrictModel):
    """Retries on another backend (only while nothing has been sent to the client) and passive ejection.

    Ejection follows Envoy's outlier detection: consecutive failures eject a backend for ``eject_s``
    times the number of times it was ejected (up to ``max_eject_s``); it is re-admitted when that time
    is over; never more than ``max_ejected_percent`` of a pool is ejected, and never its last
    available backend.
    """

    attempts: int = Field(default=3, ge=1, description="Tries per request in all (1 = no retry).")
    on_status: list[int] = Field(
        default_factory=lambda: [500, 502, 503, 504],
        description="Engine statuses retried on another backend while nothing was sent to the client "
        "(the last attempt's answer is relayed as it is).",
    )
    eject_on_status: list[int] = Field(
        default_factory=lambda: [500, 502, 503, 504],
        description="Engine statuses that count as a failure of the backend towards ejection (like "
        "connection errors and timeouts do); a 429 is back-pressure, not a failure.",
    )
    eject_after_failures: int = Field(
        default=3, ge=1, description="Consecutive failures after which a backend is ejected (passive health)."
    )
    eject_s: float = Field(
        default=10.0,
        gt=0,
        description="How long a backend is ejected the first time; each ejection soon after the last one "
        "multiplies it (base x times ejected), up to max_eject_s.",
    )
    max_eject_s: float = Field(
        default=300.0,
        gt=0,
        description="Longest ejection; a backend not ejected for this long starts again from eject_s.",
    )
    max_ejected_percent: float = Field(
        default=50.0,
        ge=0,
        le=100,
        description="Most of a pool that may be ejected at once (at least one backend of a pool of two "
        "or more; the last available backend never is).",
    )

    @model_validator(mode="after")
    def _statuses(self) -> RetryConfig:
        for status in (*self.on_status, *self.eject_on_status):
            if not 100 <= status <= 599:
                raise ValueError(f"{status} is not an HTTP status; use e.g. 500, 502, 503, 504")
        if self.max_eject_s < self.eject_s:
            raise ValueError("max_eject_s is below eject_s; raise it or lower eject_s")
        return self


class HealthCheckConfig(StrictModel):
    """Active health checks of each backend."""

    enabled: bool = Field(default=True, description="Probe backends periodically.")
    path: str = Field(
        default="/health",
        description="Path probed on each backend (200 = healthy); a pool's health_path overrides it.",
    )
    interval_s: float = Field(default=5.0, gt=0, description="Seconds between probes.")
    timeout_s: float = Field(default=2.0, gt=0, description="Probe timeout.")
    unhealthy_after: int = Field(
        default=2, ge=1, description="Failed probes in a row that mark a backend down."
    )
    healthy_after: int = Field(default=1, ge=1, description="Good probes in a row that bring it back.")


class CorsConfig(StrictModel):
    """Cross-origin access for browser clients (preflight answers and Access-Control-* headers)."""

    allow_origins: list[str] = Field(
        description="Origins allowed to call the API, exactly as browsers send them (e.g. "
        "'https://chat.example.com'), or ['*'] for any origin.",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["authorization", "content-type", "x-request-id"],
        description="Request headers a browser may send.",
    )
    expose_headers: list[str] = Field(
        default_factory=lambda: ["x-request-id", "retry-after"],
        description="Response headers a browser script may read.",
    )
    max_age_s: int = Field(default=600, ge=0, description="How long browsers may cache a preflight answer.")


class MetricsConfig(StrictModel):
    """Who can read /metrics, and what its labels reveal."""

    port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve /metrics on this separate port only (for Prometheus, not exposed to clients); "
        "unset = on the main listener.",
    )
    bearer_token_file: str | None = Field(
        default=None,
        description="File holding a token that /metrics requires as 'Authorization: Bearer <token>' "
        "(Prometheus: authorization.credentials_file); unset = no token.",
    )
    expose_key_ids: bool = Field(
        default=False,
        description="Label token counters with API key ids; off = tokens counted for all keys together.",
    )
    expose_backend_urls: bool = Field(
        default=False,
        description="Label per-backend series with the engine's URL; off = '<pool>/<n>', a number per "
        "backend that the gateway's 'backends added' log line maps to its URL.",
    )


class GatewayConfig(StrictModel):
    """The whole gateway config: one file, also rendered as a ConfigMap."""

    apiVersion: Literal["kubellm.dev/v1alpha1"] = Field(
        default=GATEWAY_API_VERSION, description="Config version."
    )
    kind: Literal["GatewayConfig"] = Field(default=GATEWAY_KIND, description="Always GatewayConfig.")
    listen: ListenConfig = Field(default_factory=ListenConfig, description="Listener address and TLS.")
    pools: list[PoolConfig] = Field(default_factory=list, description="One pool per served model.")
    admission: AdmissionConfig = Field(default_factory=AdmissionConfig, description="API keys and limits.")
    timeouts: TimeoutConfig = Field(default_factory=TimeoutConfig, description="Upstream time limits.")
    retries: RetryConfig = Field(default_factory=RetryConfig, description="Retries and passive ejection.")
    health_checks: HealthCheckConfig = Field(
        default_factory=HealthCheckConfig, description="Active health checks."
    )
    cold_start_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="How long a request waits for a backend while its pool scales from zero, then 503.",
    )
    drain_timeout_s: float = Field(
        default=30.0, gt=0, description="On SIGTERM: how long in-flight requests may finish before exit."
    )
    max_connections_per_backend: int = Field(
        default=256, ge=1, description="Pooled keep-alive connections kept per backend."
    )
    upstream_client: Literal["httptools", "aiohttp"] = Field(
        default="httptools",
        description="HTTP client that reaches the engines: 'httptools' (fast, the default) or 'aiohttp' "
        "(the plain reference implementation: same behaviour, more CPU per request).",
    )
    cors: CorsConfig | None = Field(
        default=None,
        description="Cross-origin access for browser clients; unset = no CORS headers, so browsers refuse "
        "cross-origin calls.",
    )
    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig, description="Access to /metrics and what its labels show."
    )
    log_prompts: bool = Field(
        default=False,
        description="Log prompt text in audit lines and request bodies in error lines (off: prompts are "
        "private). API keys and Authorization headers are never logged.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")
    audit_log: bool = Field(default=True, description="Write one JSON audit line per request.")

    @model_validator(mode="after")
    def _pools_consistent(self) -> GatewayConfig:
        seen: dict[str, str] = {}
        for pool in self.pools:
            for name in (pool.name, *pool.aliases):
                if name in seen:
                    raise ValueError(
                        f"model name {name!r} is claimed by pools {seen[name]!r} and {pool.name!r}"
                    )
                seen[name] = pool.name
        names = {p.name for p in self.pools}
        for pool in self.pools:
            if pool.fallback_pool is not None and pool.fallback_pool not in names:
                raise ValueError(
                    f"pool {pool.name!r}: fallback_pool {pool.fallback_pool!r} is not a pool name"
                )
            if pool.fallback_pool == pool.name:
                raise ValueError(f"pool {pool.name!r}: fallback_pool cannot be the pool itself")
            if pool.long_context is not None and pool.long_context.pool not in names:
                raise ValueError(
                    f"pool {pool.name!r}: long_context.pool {pool.long_context.pool!r} is not a pool name"
                )
        return self
