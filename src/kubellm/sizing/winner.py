"""The winning configuration as a complete LLMService spec, ready for ``kubellm render`` / ``apply``."""

from __future__ import annotations

import math

from kubellm.sizing.candidate import Candidate, SizingResult
from kubellm.spec import LLMService, dump_spec

BURST_REPLICAS = 2.0  # the autoscaler may double the sized replica count for bursts


def winner_spec(result: SizingResult) -> LLMService:
    """The best candidate's spec: its GPUs, numerics and engine limits, the SLO it was sized for, its
    per-replica concurrency as the target, and its replica count as the autoscaler's floor."""
    winner = result.winner
    if winner is None or winner.plan is None or winner.prediction is None:
        raise ValueError("no winner to write")
    spec = winner.plan.spec
    in_flight = winner.prediction.requests_per_s * (winner.prediction.e2e_ms.mean or 0.0) / 1e3
    per_replica = max(1, math.ceil(in_flight / winner.replicas))
    serving = spec.serving.model_copy(
        update={
            "slo": result.slo,
            "target_concurrency": per_replica,
            "max_num_seqs": winner.plan.settings.max_num_seqs,
            "max_num_batched_tokens": winner.plan.settings.max_num_batched_tokens,
        }
    )
    scaling = spec.scaling.model_copy(
        update={
            "min_replicas": winner.replicas,
            "max_replicas": max(winner.replicas, math.ceil(winner.replicas * BURST_REPLICAS)),
        }
    )
    data = spec.model_copy(update={"serving": serving, "scaling": scaling}).model_dump()
    return LLMService.model_validate(data)


def winner_yaml(result: SizingResult, command: str) -> str:
    """The winner's spec with a header saying how it was chosen."""
    winner = result.winner
    assert winner is not None and winner.prediction is not None
    p = winner.prediction
    cost = f"${winner.usd_per_hour:,.2f}/h" if winner.usd_per_hour is not None else "price unknown"
    header = [
        f"# Sized by: {command}",
        f"# Traffic: {result.traffic.label}",
        f"# SLO: TTFT p95 ≤ {result.slo.ttft_p95_ms:g} ms, ITL p95 ≤ {result.slo.itl_p95_ms:g} ms",
        f"# Chosen: {winner.replicas} × {winner.shape.label}, {cost}; simulated TTFT p95 "
        f"{p.ttft_ms.p95 or 0:,.0f} ms, ITL p95 {p.itl_ms.p95 or 0:.1f} ms, {p.output_tokens_per_s:,.0f} output tok/s",
        "# Predictions come from kubellm's calibrated performance model; measure with `kubellm bench --against`.",
    ]
    return "\n".join(header) + "\n" + dump_spec(winner_spec(result))


def nearest_miss_text(result: SizingResult) -> str:
    return result.no_winner_note()


__all__ = ["Candidate", "nearest_miss_text", "winner_spec", "winner_yaml"]
