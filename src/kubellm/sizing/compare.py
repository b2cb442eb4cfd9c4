"""Predicted vs measured: the planner's roofline and the simulator beside each measured load level.

``kubellm bench URL … --against SPEC`` plans ``SPEC``, then for every level it measured predicts the
same load — the planner's steady state at that concurrency, and the simulator replaying the level's
requests (closed loop at its concurrency, or Poisson at its rate) over the replicas the results name,
behind the spec's routing policy — so a team sees how far to trust the sizing on its own GPUs.
"""

from __future__ import annotations

from kubellm.planning import Plan, plan
from kubellm.sizing.predict import simulate
from kubellm.sizing.traffic import Traffic
from kubellm.spec import LLMService
from kubellm.spec.bench import AgainstReport, BenchPoint, BenchResults, LevelFigures, PredictedLevel

SIM_REQUESTS_PER_SLOT = 10  # closed loop: requests each slot serves in the simulated level
MIN_SIM_REQUESTS = 200


def engine_label(spec: LLMService) -> str:
    image = spec.engine.image
    tag = image.rsplit(":", 1)[1] if image and ":" in image.rsplit("/", 1)[-1] else None
    return (
        f"{spec.engine.name.value} {tag}"
        if tag
        else f"{spec.engine.name.value} (version unpinned in the spec)"
    )


def _measured(point: BenchPoint) -> LevelFigures:
    return LevelFigures(
        ttft_p50_ms=point.ttft_ms.p50,
        ttft_p95_ms=point.ttft_ms.p95,
        tpot_p50_ms=point.tpot_ms.p50,
        itl_p95_ms=point.itl_ms.p95,
        output_tokens_per_s=round(point.output_tokens_per_s, 2),
    )


def _planned(the_plan: Plan, concurrency: int, prompt: int, output: int, replicas: int) -> LevelFigures:
    perf = the_plan.performance_model
    per_replica = max(1, round(concurrency / replicas))
    itl, tokens_per_s = perf.steady_state(per_replica, prompt, output)
    ttft = perf.ttft_ms(
        prompt, the_plan.settings.max_num_batched_tokens, per_replica - 1, prompt + output // 2
    )
    return LevelFigures(
        ttft_p50_ms=round(ttft, 2),
        tpot_p50_ms=round(itl, 3),
        output_tokens_per_s=round(tokens_per_s * replicas, 2),
    )


def _simulated(
    the_plan: Plan, point: BenchPoint, prompt: int, output: int, replicas: int, policy: str
) -> LevelFigures:
    if point.concurrency is not None:
        count = max(MIN_SIM_REQUESTS, SIM_REQUESTS_PER_SLOT * point.concurrency)
        traffic = Traffic(
            concurrency=point.concurrency, prompt_tokens=prompt, output_tokens=output, requests=count
        )
    else:
        count = max(MIN_SIM_REQUESTS, round((point.rate or 1.0) * max(point.duration_s, 10.0)))
        traffic = Traffic(rate=point.rate, prompt_tokens=prompt, output_tokens=output, requests=count)
    p = simulate(the_plan, traffic, replicas=replicas, policy=policy)
    return LevelFigures(
        ttft_p50_ms=p.ttft_ms.p50,
        ttft_p95_ms=p.ttft_ms.p95,
        tpot_p50_ms=p.tpot_ms.p50,
        itl_p95_ms=p.itl_ms.p95,
        output_tokens_per_s=round(p.output_tokens_per_s, 2),
    )


def compare(results: BenchResults, spec: LLMService, spec_name: str) -> AgainstReport:
    """Predictions for every measured level of ``results`` from the plan of ``spec``."""
    the_plan = plan(spec)
    config = results.metadata.config
    replicas = config.replicas
    levels: list[PredictedLevel] = []
    for point in results.points:
        if point.requests == 0:
            continue
        prompt = round(point.input_tokens_mean or config.input_tokens)
        output = round(point.output_tokens_mean or config.output_tokens)
        concurrency = point.concurrency or max(1, round(point.in_flight))
        levels.append(
            PredictedLevel(
                load=f"c={point.concurrency}" if point.concurrency is not None else f"r={point.rate:g}/s",
                measured=_measured(point),
                plan=_planned(the_plan, concurrency, prompt, output, replicas),
                sim=_simulated(the_plan, point, prompt, output, replicas, spec.gateway.routing),
            )
        )
    return AgainstReport(
        spec=spec_name,
        gpu=the_plan.gpu,
        gpus_per_replica=the_plan.parallelism.gpus_per_replica,
        replicas=replicas,
        engine=engine_label(spec),
        calibration=the_plan.performance_model.cal.name,
        levels=levels,
    )


def error_pct(predicted: float | None, measured: float | None) -> float | None:
    """(predicted − measured) / measured in percent; None when either is missing or measured is 0."""
    if predicted is None or measured is None or measured == 0:
        return None
    return (predicted - measured) / measured * 100.0
