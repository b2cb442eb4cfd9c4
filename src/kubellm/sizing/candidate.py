"""Candidates of a sizing search, their verdicts, the ranking and the JSON contract.

JSON (``kubellm plan --slo … --json``)::

    {"candidates": [{"gpu", "gpus_per_replica", "tensor_parallel", "quantization", "kv_cache_dtype",
                     "max_num_seqs", "replicas", "meets_slo",
                     "predicted": {"ttft_p95_ms", "itl_p95_ms", "requests_per_s", "output_tokens_per_s"},
                     "usd_per_hour", "usd_per_million_output_tokens", "why"}],
     "best": <index or null>}

Candidates are ranked: those that meet the SLO within the budget first (cheapest per hour, then per
million output tokens), then those over budget, then the misses nearest to the SLO first, then the
shapes rejected before simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubellm.planning import Plan
from kubellm.sizing.predict import Prediction
from kubellm.sizing.slo import Judgement, ms
from kubellm.sizing.space import Shape
from kubellm.sizing.traffic import Traffic
from kubellm.spec.service import Slo

MEETS, OVER_BUDGET, MISSES, REJECTED = 0, 1, 2, 3


@dataclass(slots=True)
class Candidate:
    """One shape with its engine limits and replica count, and why it won or lost."""

    shape: Shape
    plan: Plan | None
    replicas: int = 0
    prediction: Prediction | None = None
    judgement: Judgement | None = None
    usd_per_hour: float | None = None  # all replicas
    within_budget: bool = True
    why: str = ""
    status: int = REJECTED
    miss_ratio: float = float("inf")  # rejected by the roofline: its bound / the limit

    @classmethod
    def rejected(
        cls,
        shape: Shape,
        plan: Plan | None,
        why: str,
        *,
        replicas: int = 0,
        usd_per_hour: float | None = None,
        miss_ratio: float = float("inf"),
    ) -> Candidate:
        return cls(
            shape,
            plan,
            replicas=replicas,
            usd_per_hour=usd_per_hour,
            why=why,
            status=REJECTED,
            miss_ratio=miss_ratio,
        )

    @classmethod
    def simulated(
        cls,
        shape: Shape,
        plan: Plan,
        replicas: int,
        prediction: Prediction,
        judgement: Judgement,
        price_per_gpu: float | None,
        budget: float | None,
    ) -> Candidate:
        cost = price_per_gpu * shape.gpus_per_replica * replicas if price_per_gpu is not None else None
        within = budget is None or (cost is not None and cost <= budget)
        if not judgement.meets:
            status, why = MISSES, "; ".join(judgement.broken) + f" with {replicas} replica(s)"
        elif not within:
            status = OVER_BUDGET
            why = (
                f"${cost:,.2f}/h > budget ${budget:,.2f}/h"
                if cost is not None
                else "no price known to check the budget"
            )
        else:
            status, why = MEETS, "meets the SLO"
        if cost is None and status == MEETS:
            why += " (no price known: pass --price GPU=USD)"
        return cls(shape, plan, replicas, prediction, judgement, cost, within, why, status)

    @property
    def meets_slo(self) -> bool:
        return self.judgement is not None and self.judgement.meets

    @property
    def usd_per_million_output_tokens(self) -> float | None:
        if self.usd_per_hour is None or self.prediction is None or self.prediction.output_tokens_per_s <= 0:
            return None
        return self.usd_per_hour / (self.prediction.output_tokens_per_s * 3600) * 1e6

    @property
    def max_num_seqs(self) -> int | None:
        return self.plan.settings.max_num_seqs if self.plan else None

    def sort_key(self) -> tuple[float, ...]:
        cost = self.usd_per_hour if self.usd_per_hour is not None else float("inf")
        per_million = self.usd_per_million_output_tokens or float("inf")
        miss = self.judgement.worst_ratio if self.judgement else self.miss_ratio
        if self.status in (MEETS, OVER_BUDGET):
            return (self.status, cost, per_million, self.replicas * self.shape.gpus_per_replica)
        return (self.status, miss, cost, 0.0)

    def to_json_dict(self) -> dict[str, Any]:
        p = self.prediction
        return {
            "gpu": self.plan.gpu if self.plan else self.shape.gpu.name,
            "gpus_per_replica": self.shape.gpus_per_replica,
            "tensor_parallel": self.shape.tp,
            "quantization": self.shape.quantization,
            "kv_cache_dtype": self.shape.kv_cache_dtype,
            "max_num_seqs": self.max_num_seqs,
            "replicas": self.replicas,
            "meets_slo": self.meets_slo,
            "predicted": {
                "ttft_p95_ms": p.ttft_ms.p95 if p else None,
                "itl_p95_ms": p.itl_ms.p95 if p else None,
                "requests_per_s": round(p.requests_per_s, 3) if p else None,
                "output_tokens_per_s": round(p.output_tokens_per_s, 1) if p else None,
            },
            "usd_per_hour": round(self.usd_per_hour, 3) if self.usd_per_hour is not None else None,
            "usd_per_million_output_tokens": _round(self.usd_per_million_output_tokens),
            "why": self.why,
        }


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


@dataclass(slots=True)
class SizingResult:
    """Every candidate, best first, and the index of the best (None when nothing meets the SLO)."""

    candidates: list[Candidate]
    slo: Slo
    traffic: Traffic
    budget_usd_hour: float | None
    best: int | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def ranked(
        cls, candidates: list[Candidate], slo: Slo, traffic: Traffic, budget: float | None
    ) -> SizingResult:
        ordered = sorted(candidates, key=lambda c: c.sort_key())
        best = 0 if ordered and ordered[0].status == MEETS else None
        result = cls(ordered, slo, traffic, budget, best)
        if best is not None:
            winner = ordered[0]
            for other in ordered[1:]:
                if other.status == MEETS:
                    other.why = _dearer(other, winner)
        else:
            result.notes.append(result.no_winner_note())
        return result

    @property
    def winner(self) -> Candidate | None:
        return self.candidates[self.best] if self.best is not None else None

    def nearest_miss(self) -> Candidate | None:
        """The over-budget or missing candidate closest to the SLO, else the roofline reject closest to it."""
        for candidate in self.candidates:
            if candidate.status in (OVER_BUDGET, MISSES):
                return candidate
        rejects = [c for c in self.candidates if c.miss_ratio != float("inf")]
        return min(rejects, key=lambda c: c.miss_ratio) if rejects else None

    def no_winner_note(self) -> str:
        near = self.nearest_miss()
        if near is None:
            return "no configuration fits and meets the SLO; nothing came close enough to simulate"
        prefix = (
            "no configuration meets the SLO within the budget"
            if near.status == OVER_BUDGET
            else "no configuration meets the SLO"
        )
        count = f"{near.replicas} × " if near.replicas else ""
        return f"{prefix}; nearest miss: {count}{near.shape.label}: {near.why}"

    def to_json_dict(self) -> dict[str, Any]:
        return {"candidates": [c.to_json_dict() for c in self.candidates], "best": self.best}


def _dearer(candidate: Candidate, winner: Candidate) -> str:
    if candidate.usd_per_hour is None:
        return "meets the SLO, but no price is known to rank it (pass --price GPU=USD)"
    if winner.usd_per_hour is not None and candidate.usd_per_hour > winner.usd_per_hour:
        return f"meets the SLO at ${candidate.usd_per_hour:,.2f}/h > ${winner.usd_per_hour:,.2f}/h"
    per_m, best_m = candidate.usd_per_million_output_tokens, winner.usd_per_million_output_tokens
    if per_m is not None and best_m is not None and per_m > best_m:
        return f"meets the SLO at ${per_m:,.3f} per million output tokens > ${best_m:,.3f}"
    return f"meets the SLO at the same cost with {candidate.replicas * candidate.shape.gpus_per_replica} GPUs"


def describe_prediction(p: Prediction) -> str:
    return f"TTFT p95 {ms(p.ttft_ms.p95 or 0)} ms, ITL p95 {ms(p.itl_ms.p95 or 0)} ms"
