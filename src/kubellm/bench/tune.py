"""`kubellm tune`: write a benchmark's knee into an LLMService spec (pure).

- ``serving.target_concurrency`` ← the recommended per-replica max concurrency.
- ``scaling.target``, by ``scaling.metric``:
  ``running`` / ``gateway-pending`` (requests in flight per replica) ← the autoscaling target (80 % of the
  max); ``queue`` (waiting requests) ← 20 % of the max, with ``serving.max_num_seqs`` capped at the max so
  that requests past the knee wait in the queue the autoscaler watches; ``kv-cache`` is left alone (a
  benchmark does not measure KV usage) and said so.
"""

from __future__ import annotations

from kubellm.errors import UsageError
from kubellm.spec.bench import BenchResults
from kubellm.spec.service import LLMService

QUEUE_FRACTION = 0.2


def tune_spec(spec: LLMService, results: BenchResults) -> tuple[LLMService, list[str]]:
    """The spec with the knee's settings written in, and one line per change (or non-change) made."""
    knee = results.knee
    if knee is None or knee.recommended_max_concurrency is None or knee.autoscaling_target is None:
        why = knee.reason if knee is not None else "no load level completed a request"
        raise UsageError(
            f"the results have no knee to tune from ({why})",
            "rerun kubellm bench with more load levels (--sweep) or a looser --slo",
        )
    max_conc = knee.recommended_max_concurrency
    serving = spec.serving.model_copy()
    scaling = spec.scaling.model_copy()
    changes = [f"serving.target_concurrency: {serving.target_concurrency} → {max_conc}"]
    serving.target_concurrency = max_conc
    metric = scaling.metric
    if metric in ("running", "gateway-pending"):
        target = knee.autoscaling_target
        changes.append(f"scaling.target ({metric} per replica): {scaling.target:g} → {target:g}")
        scaling.target = target
    elif metric == "queue":
        target = max(1.0, round(QUEUE_FRACTION * max_conc, 1))
        changes.append(f"scaling.target (queued requests per replica): {scaling.target:g} → {target:g}")
        scaling.target = target
        changes.append(
            f"serving.max_num_seqs: {serving.max_num_seqs} → {max_conc} (requests past the knee queue)"
        )
        serving.max_num_seqs = max_conc
    else:
        changes.append(
            f"scaling.target left at {scaling.target:g}: a benchmark does not measure {metric} usage"
        )
    tuned = spec.model_copy(update={"serving": serving, "scaling": scaling})
    return LLMService.model_validate(tuned.model_dump()), changes
