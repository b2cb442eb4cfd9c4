"""The engine's Prometheus metrics under vLLM's names, types, buckets and labels.

Names and histogram buckets follow vLLM's v1 ``PrometheusStatLogger`` (vllm/v1/metrics/loggers.py);
every series carries ``model_name`` (the served name) and ``engine="0"`` as vLLM's do. Gauges are read
from the scheduler when scraped.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable

from kubellm.sim.blocks import KvBlockPool
from kubellm.sim.scheduler import ContinuousBatchScheduler, SimRequest, StepResult

TTFT_BUCKETS_S = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
TOKEN_LATENCY_BUCKETS_S = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
REQUEST_LATENCY_BUCKETS_S = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
FINISH_REASONS = ("stop", "length", "abort")


def build_1_2_5_buckets(max_value: int) -> tuple[float, ...]:
    """1, 2, 5, 10, 20, 50, … up to ``max_value`` (vLLM's token-count buckets)."""
    out: list[float] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_value:
                return tuple(out)
            out.append(float(value))
        exponent += 1


class Histogram:
    """Cumulative-bucket histogram with Prometheus text output."""

    __slots__ = ("buckets", "count", "counts", "help", "name", "sum")

    def __init__(self, name: str, help_text: str, buckets: Iterable[float]) -> None:
        self.name = name
        self.help = help_text
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float, times: int = 1) -> None:
        self.counts[bisect_left(self.buckets, value)] += times
        self.sum += value * times
        self.count += times

    def render(self, labels: str, out: list[str]) -> None:
        out.append(f"# HELP {self.name} {self.help}")
        out.append(f"# TYPE {self.name} histogram")
        cumulative = 0
        for bound, n in zip(self.buckets, self.counts, strict=False):
            cumulative += n
            out.append(f'{self.name}_bucket{{{labels},le="{bound!r}"}} {float(cumulative)!r}')
        out.append(f'{self.name}_bucket{{{labels},le="+Inf"}} {float(self.count)!r}')
        out.append(f"{self.name}_count{{{labels}}} {float(self.count)!r}")
        out.append(f"{self.name}_sum{{{labels}}} {self.sum!r}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class EngineMetrics:
    """Counters and histograms fed by the engine loop; gauges read at scrape time."""

    def __init__(self, model_name: str, max_model_len: int) -> None:
        self.labels = f'engine="0",model_name="{_escape(model_name)}"'
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.success: dict[str, int] = dict.fromkeys(FINISH_REASONS, 0)
        token_buckets = build_1_2_5_buckets(max_model_len)
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS_S
        )
        self.itl = Histogram(
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            TOKEN_LATENCY_BUCKETS_S,
        )
        self.tpot = Histogram(
            "vllm:time_per_output_token_seconds",
            "Histogram of time per output token in seconds.",
            TOKEN_LATENCY_BUCKETS_S,
        )
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            REQUEST_LATENCY_BUCKETS_S,
        )
        self.queue = Histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            REQUEST_LATENCY_BUCKETS_S,
        )
        self.prompt_len = Histogram(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", token_buckets
        )
        self.output_len = Histogram(
            "vllm:request_generation_tokens", "Number of generation tokens processed.", token_buckets
        )

    def observe_step(self, result: StepResult) -> None:
        self.prompt_tokens += result.prompt_tokens
        self.generation_tokens += len(result.emitted)
        if result.common_gap_count:
            self.itl.observe(result.common_gap_s, result.common_gap_count)
            self.tpot.observe(result.common_gap_s, result.common_gap_count)
        for gap in result.other_gaps_s:
            self.itl.observe(gap)
            self.tpot.observe(gap)
        for req in result.first_tokens:
            self.ttft.observe((req.first_token_s or 0.0) - req.arrival_s)
        for req in result.finished:
            self.observe_finished(req)

    def observe_finished(self, req: SimRequest) -> None:
        reason = req.finish_reason or "abort"
        self.success[reason] = self.success.get(reason, 0) + 1
        if reason == "abort":
            return
        self.e2e.observe((req.finish_s or 0.0) - req.arrival_s)
        self.queue.observe((req.scheduled_s or req.arrival_s) - req.arrival_s)
        self.prompt_len.observe(req.prompt_tokens)
        self.output_len.observe(req.num_output)

    def render(self, scheduler: ContinuousBatchScheduler, pool: KvBlockPool) -> str:
        """The /metrics page (Prometheus text format 0.0.4)."""
        lb = self.labels
        out: list[str] = []

        def scalar(name: str, kind: str, help_text: str, value: float) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.append(f"{name}{{{lb}}} {float(value)!r}")

        scalar(
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            len(scheduler.running),
        )
        scalar(
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
            len(scheduler.waiting),
        )
        scalar("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", pool.usage)
        scalar(
            "vllm:prefix_cache_queries_total",
            "counter",
            "Prefix cache queries, in terms of number of queried tokens.",
            pool.queries * pool.block_size,
        )
        scalar(
            "vllm:prefix_cache_hits_total",
            "counter",
            "Prefix cache hits, in terms of number of cached tokens.",
            pool.hits * pool.block_size,
        )
        scalar(
            "vllm:num_preemptions_total",
            "counter",
            "Cumulative number of preemption from the engine.",
            scheduler.num_preemptions,
        )
        scalar(
            "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", self.prompt_tokens
        )
        scalar(
            "vllm:generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
            self.generation_tokens,
        )
        out.append("# HELP vllm:request_success_total Count of successfully processed requests.")
        out.append("# TYPE vllm:request_success_total counter")
        for reason, count in self.success.items():
            out.append(f'vllm:request_success_total{{{lb},finished_reason="{reason}"}} {float(count)!r}')
        for hist in (self.ttft, self.itl, self.tpot, self.e2e, self.queue, self.prompt_len, self.output_len):
            hist.render(lb, out)
        out.append("# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig")
        out.append("# TYPE vllm:cache_config_info gauge")
        caching = "True" if pool.prefix_caching else "False"
        out.append(
            f'vllm:cache_config_info{{block_size="{pool.block_size}",enable_prefix_caching="{caching}",'
            f'num_gpu_blocks="{pool.num_blocks}"}} 1.0'
        )
        out.append("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.")
        out.append("# TYPE process_cpu_seconds_total counter")
        out.append(f"process_cpu_seconds_total {time.process_time()!r}")
        out.append("")
        return "\n".join(out)
