"""`kubellm tune`: write a benchmark's knee, judged against the spec's own ``serving.slo``, into the spec (pure).

- The knee is found again on the measured points with the spec's SLO (TTFT p95, ITL p95): the SLO knee
  (highest load meeting it) and the throughput knee (where more load stops buying throughput); the
  lower one is what a replica should carry.
- Loads measured through a gateway in front of several replicas are totals: they are divided by the
  replicas the results say served them (``kubellm bench --replicas``, set by ``up --bench``).
- ``serving.target_concurrency`` ← the per-replica concurrency at the knee.
- ``scaling.target``, by ``scaling.metric``: ``running`` / ``gateway-pending`` ← 80 % of it; ``queue`` ←
  20 % of it, with ``serving.max_num_seqs`` capped at it so that requests past the knee wait in the
  queue the autoscaler watches; ``kv-cache`` is left alone (a benchmark does not measure KV usage).

One load level is no curve: tuning refuses it and says to measure more levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubellm.bench.knee import AUTOSCALE_HEADROOM, find_knee
from kubellm.errors import UsageError
from kubellm.spec.bench import BenchResults, Knee, SloTarget
from kubellm.spec.service import LLMService

QUEUE_FRACTION = 0.2


@dataclass(slots=True)
class Tuning:
    """The tuned spec, the edits that make it (for a comment-preserving rewrite), and what changed, in words."""

    spec: LLMService
    knee: Knee
    edits: list[tuple[Sequence[str], Any]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


def spec_slo_targets(spec: LLMService) -> list[SloTarget]:
    slo = spec.serving.slo
    return [
        SloTarget(metric="ttft", stat="p95", limit_ms=slo.ttft_p95_ms),
        SloTarget(metric="itl", stat="p95", limit_ms=slo.itl_p95_ms),
    ]


def tune_spec(spec: LLMService, results: BenchResults, replicas: int | None = None) -> Tuning:
    """The spec with the knee's per-replica settings written in (see the module docstring)."""
    usable = [p for p in results.points if p.requests > 0]
    if len(usable) < 2:
        what = "no load level completed a request" if not usable else "only one load level was measured"
        raise UsageError(
            f"the results have no curve to find a knee on: {what}",
            "measure more levels: kubellm bench … --sweep, or --concurrency 1,4,16,64",
        )
    config = results.metadata.config
    knee = find_knee(usable, spec_slo_targets(spec), config.plateau_gain)
    slo = spec.serving.slo
    slo_text = f"serving.slo (TTFT p95 ≤ {slo.ttft_p95_ms:g} ms, ITL p95 ≤ {slo.itl_p95_ms:g} ms)"
    if knee is None or knee.recommended_max_concurrency is None:
        raise UsageError(
            f"no measured load level met {slo_text}",
            "add GPUs or replicas, loosen serving.slo, or measure lower loads (kubellm bench -c 1,2,4)",
        )
    served_by = replicas or config.replicas
    total = knee.recommended_max_concurrency
    per_replica = max(1, total // served_by)
    tuning = Tuning(spec, knee)
    unit = knee.mode
    slo_knee = f"{unit} {knee.slo_max_load:g}" if knee.slo_max_load is not None else "none"
    throughput_knee = (
        f"{unit} {knee.saturation_load:g}" if knee.saturation_load is not None else "not reached"
    )
    tuning.changes.append(
        f"knees: SLO knee at {slo_knee} against {slo_text}; throughput knee {throughput_knee}"
    )
    if served_by > 1:
        tuning.changes.append(
            f"measured through a gateway over {served_by} replicas: {total} in flight in total → {per_replica} per replica"
        )
    _apply(tuning, per_replica)
    return tuning


def _set(tuning: Tuning, path: tuple[str, str], old: Any, new: Any, note: str = "") -> None:
    tuning.edits.append((path, new))
    tuning.changes.append(f"{'.'.join(path)}: {old} → {new}{note}")


def _apply(tuning: Tuning, per_replica: int) -> None:
    spec = tuning.spec
    serving = spec.serving.model_copy()
    scaling = spec.scaling.model_copy()
    _set(tuning, ("serving", "target_concurrency"), serving.target_concurrency, per_replica)
    serving.target_concurrency = per_replica
    metric = scaling.metric
    if metric in ("running", "gateway-pending"):
        target = max(1.0, round(AUTOSCALE_HEADROOM * per_replica, 1))
        _set(tuning, ("scaling", "target"), f"{scaling.target:g}", target, f" ({metric} per replica)")
        scaling.target = target
    elif metric == "queue":
        target = max(1.0, round(QUEUE_FRACTION * per_replica, 1))
        _set(tuning, ("scaling", "target"), f"{scaling.target:g}", target, " (queued requests per replica)")
        scaling.target = target
        _set(
            tuning,
            ("serving", "max_num_seqs"),
            serving.max_num_seqs,
            per_replica,
            " (requests past the knee queue)",
        )
        serving.max_num_seqs = per_replica
    else:
        tuning.changes.append(
            f"scaling.target left at {scaling.target:g}: a benchmark does not measure {metric} usage"
        )
    tuned = spec.model_copy(update={"serving": serving, "scaling": scaling})
    tuning.spec = LLMService.model_validate(tuned.model_dump())
