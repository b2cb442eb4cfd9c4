"""Benchmark results contract: what ``kubellm bench`` writes to results.json and what ``tune`` reads.

The metric definitions themselves (TTFT, TPOT, ITL, E2E, percentiles, histograms) live in
``kubellm.spec.metrics``, shared with the simulator, and are re-exported here. How bench turns its
per-request records into a ``BenchPoint`` is bench's own business (``kubellm.bench.summary``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from kubellm.spec.base import StrictModel
from kubellm.spec.metrics import (
    HISTOGRAM_GROWTH,
    LatencyMetric,
    LatencyStats,
    StatName,
    TokenSource,
    bucket_value_ms,
    e2e_s,
    histogram_bucket,
    histogram_ms,
    itl_gaps_s,
    latency_stats_ms,
    percentile,
    stats_from_histogram,
    tpot_s,
    ttft_s,
)

__all__ = [
    "HISTOGRAM_GROWTH",
    "RESULTS_SCHEMA_VERSION",
    "AgainstReport",
    "BenchConfig",
    "BenchMetadata",
    "BenchPoint",
    "BenchResults",
    "Goodput",
    "Knee",
    "LatencyMetric",
    "LatencyStats",
    "LevelFigures",
    "PredictedLevel",
    "SloTarget",
    "StatName",
    "TokenSource",
    "bucket_value_ms",
    "e2e_s",
    "histogram_bucket",
    "histogram_ms",
    "itl_gaps_s",
    "latency_stats_ms",
    "percentile",
    "point_meets_slo",
    "stats_from_histogram",
    "tpot_s",
    "ttft_s",
]

RESULTS_SCHEMA_VERSION = 1


class SloTarget(StrictModel):
    """One latency objective, e.g. ``ttft_p95=500ms``."""

    metric: LatencyMetric = Field(
        description="Latency metric the objective is about: ttft, tpot, itl or e2e."
    )
    stat: StatName = Field(
        default="p95", description="Statistic compared with the limit: mean, p50, p90, p95, p99."
    )
    limit_ms: float = Field(gt=0, description="Largest acceptable value of the statistic, milliseconds.")

    @property
    def label(self) -> str:
        """``ttft_p95=500ms`` form, as given on the command line."""
        return f"{self.metric}_{self.stat}={self.limit_ms:g}ms"


class Goodput(StrictModel):
    """Requests that met every per-request SLO (TTFT, TPOT, E2E limits; ITL uses each request's worst gap)."""

    good_requests: int = Field(ge=0, description="Completed requests meeting every SLO limit.")
    requests_per_s: float = Field(ge=0, description="Good requests per second of the measurement window.")
    fraction: float = Field(
        ge=0, le=1, description="Good requests over all attempts in the window (errors count as misses)."
    )


class BenchPoint(StrictModel):
    """Measurements at one load level (a fixed concurrency or a fixed arrival rate)."""

    concurrency: int | None = Field(default=None, ge=1, description="Closed loop: requests kept in flight.")
    rate: float | None = Field(default=None, gt=0, description="Open loop: requests started per second.")
    arrival: Literal["poisson", "constant"] | None = Field(
        default=None, description="Open loop: arrival process (Poisson or evenly spaced)."
    )
    duration_s: float = Field(ge=0, description="Length of the measurement window (after warm-up), seconds.")
    requests: int = Field(ge=0, description="Requests that completed successfully and started in the window.")
    errors: dict[str, int] = Field(
        default_factory=dict,
        description="Failed requests by type (connect, http_401, http_5xx, malformed_sse…).",
    )
    error_samples: list[str] = Field(
        default_factory=list, description="The first few error messages, verbatim, for the summary."
    )
    in_flight: float = Field(
        ge=0, description="Mean number of requests actually in flight during the window."
    )
    requests_per_s: float = Field(ge=0, description="Successful requests completed per second of the window.")
    output_tokens_per_s: float = Field(ge=0, description="Output tokens per second of the window.")
    total_tokens_per_s: float = Field(ge=0, description="Prompt plus output tokens per second of the window.")
    input_tokens_mean: float | None = Field(default=None, description="Mean prompt tokens per request.")
    output_tokens_mean: float | None = Field(default=None, description="Mean output tokens per request.")
    ttft_ms: LatencyStats = Field(description="Time to first non-empty content chunk, ms.")
    tpot_ms: LatencyStats = Field(description="(E2E − TTFT)/(output tokens − 1) per request, ms.")
    itl_ms: LatencyStats = Field(description="Gaps between content chunks, pooled over requests, ms.")
    e2e_ms: LatencyStats = Field(description="Start to last content chunk, ms.")
    goodput: Goodput | None = Field(
        default=None, description="Requests meeting the SLOs (when SLOs were given)."
    )
    slo_met: bool | None = Field(
        default=None, description="Whether the point's statistics meet every SLO and errors stay under 1 %."
    )
    token_source: TokenSource = Field(
        description="Where output token counts came from: usage, tokenizer, chunks."
    )
    schedule_lag_ms: LatencyStats | None = Field(
        default=None, description="Open loop: how far actual sends fell behind the schedule, ms."
    )
    histograms: dict[str, dict[int, int]] = Field(
        default_factory=dict,
        description="Per metric, 1 %-wide log-bucket counts of the latencies (lets `bench merge` combine pods).",
    )

    @property
    def load(self) -> float:
        """The load level: concurrency or rate."""
        return float(self.concurrency if self.concurrency is not None else (self.rate or 0.0))

    @property
    def error_count(self) -> int:
        """All failed requests of the point."""
        return sum(self.errors.values())


class Knee(StrictModel):
    """Where latency stops being acceptable, and the settings derived from it."""

    mode: Literal["concurrency", "rate"] = Field(description="Load unit of the points: concurrency or rate.")
    slo_max_load: float | None = Field(
        default=None,
        description="Highest load level whose point met every SLO (null: none did, or no SLO given).",
    )
    saturation_load: float | None = Field(
        default=None,
        description="Load after which more load stopped buying throughput (gain below the threshold) while "
        "latency rose; null when throughput never plateaued.",
    )
    knee_load: float | None = Field(
        default=None, description="The knee: the lower of slo_max_load and saturation_load."
    )
    recommended_max_concurrency: int | None = Field(
        default=None, description="Per-replica concurrency to plan for: requests in flight at the knee."
    )
    autoscaling_target: float | None = Field(
        default=None,
        description="Per-replica in-flight requests to scale out at: 80 % of the recommended maximum.",
    )
    reason: str = Field(default="", description="How the knee was found, in words.")


class BenchConfig(StrictModel):
    """Everything that defines a run; stored with the results and shipped to in-cluster pods."""

    url: str = Field(description="Server base URL, with or without /v1.")
    model: str = Field(description="Model name sent in each request.")
    api: Literal["chat", "completions"] = Field(default="chat", description="OpenAI API used.")
    concurrency: list[int] = Field(
        default_factory=list, description="Closed-loop levels (empty in open loop)."
    )
    rate: list[float] = Field(default_factory=list, description="Open-loop arrival rates, requests/s.")
    arrival: Literal["poisson", "constant"] = Field(
        default="poisson", description="Open-loop arrival process."
    )
    sweep: bool = Field(
        default=False, description="Double the load until an SLO breaks or throughput plateaus."
    )
    sweep_max: float = Field(default=1024, gt=0, description="Highest load level a sweep tries.")
    plateau_gain: float = Field(
        default=0.10, ge=0, description="Relative throughput gain below which a doubling counts as a plateau."
    )
    duration_s: float | None = Field(default=None, gt=0, description="Measurement window per level, seconds.")
    requests: int | None = Field(
        default=None, ge=1, description="Requests per level (instead of a duration)."
    )
    warmup_s: float = Field(default=0.0, ge=0, description="Seconds of load before each window, discarded.")
    ramp_up_s: float = Field(
        default=0.0,
        ge=0,
        description="Closed loop: start the workers evenly over this many seconds instead of all at once "
        "(keep it within the warm-up).",
    )
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout, seconds.")
    slo: list[SloTarget] = Field(default_factory=list, description="Latency objectives.")
    input_tokens: int = Field(
        default=256, ge=1, description="Mean prompt length in tokens (synthetic workload)."
    )
    output_tokens: int = Field(
        default=128, ge=1, description="Mean output length in tokens (synthetic workload)."
    )
    length_dist: Literal["fixed", "uniform", "normal", "lognormal"] = Field(
        default="fixed", description="Distribution of synthetic lengths around the means."
    )
    length_spread: float = Field(
        default=0.25,
        ge=0,
        description="Relative spread: half-width (uniform), stdev/mean (normal, lognormal).",
    )
    shared_prefix: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Fraction of each prompt that is a prefix shared by all requests.",
    )
    dataset: str | None = Field(default=None, description="ShareGPT-format JSON file to draw prompts from.")
    tokenizer: str | None = Field(
        default=None, description="Local tokenizer.json used to size and count tokens."
    )
    ignore_eos: bool = Field(
        default=True, description="Ask the server to generate exactly max_tokens (vLLM)."
    )
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the API key (the key itself is never stored)."
    )
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")
    seed: int = Field(default=0, description="Seed of every random choice (lengths, prompts, arrivals).")
    prompts: int = Field(default=512, ge=1, description="Distinct request bodies built before the run.")
    replicas: int = Field(
        default=1,
        ge=1,
        description="Engine replicas behind the URL (a gateway over several): loads are totals, and "
        "`kubellm tune` divides the knee by this to get the per-replica figure.",
    )


class BenchMetadata(StrictModel):
    """Where, when and how the results were measured."""

    kubellm_version: str = Field(description="Version of kubellm that measured.")
    started_at: str = Field(description="UTC start time, ISO 8601.")
    finished_at: str | None = Field(default=None, description="UTC end time, ISO 8601.")
    host: str = Field(default="", description="Host name of the client machine (or pod).")
    config: BenchConfig = Field(description="The run's configuration.")
    token_source_note: str = Field(default="", description="How output tokens were counted, in words.")
    pods: int = Field(
        default=1, ge=1, description="Client processes whose results were merged into this file."
    )


class LevelFigures(StrictModel):
    """The figures a load level is compared on (ms; tokens/s), measured or predicted."""

    ttft_p50_ms: float | None = Field(default=None, description="Median time to first token, ms.")
    ttft_p95_ms: float | None = Field(default=None, description="95th percentile time to first token, ms.")
    tpot_p50_ms: float | None = Field(default=None, description="Median time per output token, ms.")
    itl_p95_ms: float | None = Field(default=None, description="95th percentile inter-token gap, ms.")
    output_tokens_per_s: float | None = Field(default=None, description="Output tokens per second.")


class PredictedLevel(StrictModel):
    """One load level: what was measured, what the planner and the simulator predicted for it."""

    load: str = Field(description="The level, e.g. 'c=32' or 'r=5/s'.")
    measured: LevelFigures = Field(description="What the benchmark measured.")
    plan: LevelFigures = Field(description="The planner's roofline at this load (steady state, no queueing).")
    sim: LevelFigures = Field(description="The simulator replaying this load in virtual time.")


class AgainstReport(StrictModel):
    """Predicted vs measured (`kubellm bench --against SPEC`): how far to trust sizing on this hardware."""

    spec: str = Field(description="The spec the predictions were made for.")
    gpu: str = Field(description="GPU type of the spec (with the MIG profile when sliced).")
    gpus_per_replica: int = Field(description="GPUs per replica (tensor parallel).")
    replicas: int = Field(description="Replicas the load was spread over.")
    engine: str = Field(description="Engine and the version its image pins ('unpinned' when none is).")
    calibration: str = Field(description="The GPU class whose calibration the predictions used.")
    levels: list[PredictedLevel] = Field(default_factory=list, description="One entry per measured level.")


class BenchResults(StrictModel):
    """The ``results.json`` of ``kubellm bench`` (documented in docs/bench.md)."""

    schema_version: int = Field(default=RESULTS_SCHEMA_VERSION, description="Version of this results format.")
    metadata: BenchMetadata = Field(description="Where, when and how the results were measured.")
    points: list[BenchPoint] = Field(
        default_factory=list, description="One entry per load level, in run order."
    )
    knee: Knee | None = Field(default=None, description="The knee and the settings derived from it.")
    aborted: str | None = Field(
        default=None,
        description="Why the run stopped early (unreachable server, auth, all requests failing…).",
    )
    stop_reason: str = Field(default="", description="Why the sweep or the level list ended.")
    against: AgainstReport | None = Field(
        default=None, description="Predictions beside the measurements (`--against SPEC`)."
    )


def point_meets_slo(point: BenchPoint, slo: Sequence[SloTarget], max_error_fraction: float = 0.01) -> bool:
    """Whether every SLO statistic of ``point`` is within its limit and errors stay at most 1 %."""
    attempts = point.requests + point.error_count
    if attempts == 0 or point.error_count > max_error_fraction * attempts:
        return False
    for target in slo:
        stats: LatencyStats = getattr(point, f"{target.metric}_ms")
        value = stats.stat(target.stat)
        if value is not None and value > target.limit_ms:
            return False
    return True
