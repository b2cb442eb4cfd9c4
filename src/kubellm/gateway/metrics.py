"""Gateway metrics in the Prometheus text format, kept in plain dicts for speed.

Counters and histograms are keyed by label tuples; gauges that mirror live state (in-flight, queue,
pending, backend health) are read from callbacks at scrape time, so the request path pays nothing
for them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
ITL_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Labels, values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str, label_names: Labels) -> None:
        self.name, self.help, self.label_names = name, help_text, label_names
        self.values: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        """Add ``amount`` to the series of ``labels``."""
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}\n# TYPE {self.name} counter\n"
        for labels, value in self.values.items():
            yield f"{self.name}{_labels(self.label_names, labels)} {value:g}\n"


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(self, name: str, help_text: str, label_names: Labels, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.label_names, self.buckets = name, help_text, label_names, buckets
        self.series: dict[Labels, list[float]] = {}  # bucket counts..., +Inf count, sum

    def observe(self, labels: Labels, value: float) -> None:
        """Record one observation."""
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        series[bisect.bisect_left(self.buckets, value)] += 1
        series[-1] += value

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}\n# TYPE {self.name} histogram\n"
        for labels, series in self.series.items():
            running = 0.0
            for bound, count in zip((*self.buckets, float("inf")), series[:-1], strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                bucket_labels = _labels(self.label_names, labels, 'le="' + le + '"')
                yield f"{self.name}_bucket{bucket_labels} {running:g}\n"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {series[-1]:.6f}\n"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {running:g}\n"


class Gauge:
    """A value per label set read from a callback at scrape time."""

    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: Labels,
        read: Callable[[], Iterable[tuple[Labels, float]]],
    ) -> None:
        self.name, self.help, self.label_names, self.read = name, help_text, label_names, read

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}\n# TYPE {self.name} gauge\n"
        for labels, value in self.read():
            yield f"{self.name}{_labels(self.label_names, labels)} {value:g}\n"


class GatewayMetrics:
    """Every metric the gateway exports."""

    def __init__(self, *, expose_key_ids: bool = False) -> None:
        self.expose_key_ids = expose_key_ids
        self.requests = Counter(
            "kubellm_gateway_requests_total",
            "Requests answered, by pool, backend and HTTP status.",
            ("pool", "backend", "status"),
        )
        self.rejections = Counter(
            "kubellm_gateway_rejections_total", "Requests turned away by the gateway, by reason.", ("reason",)
        )
        self.tokens = Counter(
            "kubellm_gateway_tokens_total",
            "Tokens by direction (in = prompt, out = completion), and by key id when metrics.expose_key_ids.",
            ("key", "direction") if expose_key_ids else ("direction",),
        )
        self.retries = Counter(
            "kubellm_gateway_retries_total", "Requests retried on another backend.", ("pool",)
        )
        self.spills = Counter(
            "kubellm_gateway_fallback_total", "Requests spilled to a fallback pool.", ("from_pool", "to_pool")
        )
        self.e2e = Histogram(
            "kubellm_gateway_request_duration_seconds",
            "End-to-end time of answered requests.",
            ("pool",),
            LATENCY_BUCKETS_S,
        )
        self.ttft = Histogram(
            "kubellm_gateway_time_to_first_token_seconds",
            "Time to the first streamed chunk.",
            ("pool",),
            LATENCY_BUCKETS_S,
        )
        self.itl = Histogram(
            "kubellm_gateway_inter_token_latency_seconds",
            "Mean gap between streamed chunks, one observation per stream.",
            ("pool",),
            ITL_BUCKETS_S,
        )
        self.gauges: list[Gauge] = []

    def count_tokens(self, key_id: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Add one request's tokens (per key only when key ids may be shown)."""
        if self.expose_key_ids:
            self.tokens.inc((key_id, "in"), prompt_tokens)
            self.tokens.inc((key_id, "out"), completion_tokens)
        else:
            self.tokens.inc(("in",), prompt_tokens)
            self.tokens.inc(("out",), completion_tokens)

    def add_gauge(
        self,
        name: str,
        help_text: str,
        label_names: Labels,
        read: Callable[[], Iterable[tuple[Labels, float]]],
    ) -> None:
        """Register a gauge whose values ``read`` returns at scrape time."""
        self.gauges.append(Gauge(name, help_text, label_names, read))

    def render(self) -> str:
        """All metrics in the Prometheus text exposition format 0.0.4."""
        families: list[Counter | Histogram | Gauge] = [
            self.requests,
            self.rejections,
            self.tokens,
            self.retries,
            self.spills,
            self.e2e,
            self.ttft,
            self.itl,
            *self.gauges,
        ]
        return "".join(line for family in families for line in family.render())
