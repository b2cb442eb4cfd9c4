"""The sizing search on a tiny model and two made-up GPUs, where the answer can be worked out by hand.

"slow" ($1/h, 0.1 TB/s) and "fast" ($3/h, 1 TB/s) differ only in memory bandwidth; Qwen2.5-0.5B's
decode step is memory-bound and its KV reads at 4 × ~200 tokens are a rounding error, so the ITL is the
class's fixed step cost plus the weights over the achieved bandwidth — on "slow" ten times the
weights term of "fast". The SLO decides who can meet it; the price decides who wins.
"""

from __future__ import annotations

import pytest

from kubellm.catalog import Catalog, GpuSpec, default_catalog
from kubellm.planning import plan
from kubellm.planning.calibration import default_calibration
from kubellm.sizing.candidate import MEETS, OVER_BUDGET
from kubellm.sizing.search import SizingSearch
from kubellm.sizing.slo import parse_slo
from kubellm.sizing.traffic import parse_traffic
from kubellm.spec import LLMService

MODEL = default_catalog().model("Qwen2.5-0.5B-Instruct")
TRAFFIC = parse_traffic("concurrency=4,prompt=128,output=64")


def gpu(name: str, bandwidth_tbs: float, usd: float) -> GpuSpec:
    return GpuSpec(
        name=name, memory_gib=20.0, memory_gb_nominal=20.0, bandwidth_tbs=bandwidth_tbs, bf16_tflops=100.0,
        fp16_tflops=100.0, fp8_tflops=None, int8_tops=None, compute_capability="8.0", architecture="test",
        usd_per_hour=usd,
    )  # fmt: skip


SLOW, FAST = gpu("slow", 0.1, 1.0), gpu("fast", 1.0, 3.0)
CATALOG = Catalog([MODEL], [SLOW, FAST])
BASE = LLMService.model_validate(
    {
        "metadata": {"name": "tiny"},
        "model": {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "name": MODEL.name},
        "gpu": {"type": "slow"},
    }
)


def itl_by_hand_ms(device: GpuSpec) -> float:
    """The decode step at batch 4 by the documented formula, without the negligible KV and compute."""
    cal = default_calibration()
    klass = cal.for_gpu(device)
    weights = (
        plan(
            BASE.model_copy(update={"gpu": BASE.gpu.model_copy(update={"type": device.name, "count": 1})}),
            CATALOG,
        ).memory.weights_gib
        * 2**30
    )
    fixed = (
        klass.step_overhead_ms
        + MODEL.num_layers * cal.layer_overhead_us / 1e3
        + 4 * cal.per_sequence_us / 1e3
    )
    return fixed + weights / (device.bandwidth_tbs * 1e12 * klass.bandwidth_efficiency) * 1e3


def search(slo: str, budget: float | None = None) -> SizingSearch:
    return SizingSearch(
        BASE, MODEL, TRAFFIC, parse_slo(slo), [SLOW, FAST], quantizations=["none"], kv_dtypes=["auto"],
        budget_usd_hour=budget, catalog=CATALOG,
    )  # fmt: skip


def test_the_hand_worked_itl_matches_the_model() -> None:
    for device in (SLOW, FAST):
        spec = BASE.model_copy(update={"gpu": BASE.gpu.model_copy(update={"type": device.name, "count": 1})})
        perf = plan(spec, CATALOG).performance_model
        assert perf.decode_step_ms(4, 200) == pytest.approx(itl_by_hand_ms(device), rel=0.02)


def test_an_slo_only_the_fast_gpu_meets_picks_one_fast_replica() -> None:
    limit = (itl_by_hand_ms(SLOW) + itl_by_hand_ms(FAST)) / 2  # slow cannot, fast can
    result = search(f"ttft_p95_ms=2000,itl_p95_ms={limit:.3f}").run()
    best = result.winner
    assert best is not None
    assert (best.shape.gpu.name, best.shape.tp, best.replicas) == ("fast", 1, 1)
    assert best.usd_per_hour == pytest.approx(3.0)
    assert best.prediction is not None and best.prediction.itl_ms.p95 == pytest.approx(
        itl_by_hand_ms(FAST), rel=0.1
    )
    slow = next(c for c in result.candidates if c.shape.gpu.name == "slow" and c.shape.tp == 1)
    assert "ITL" in slow.why and f"> {limit:.3f}"[:6] in slow.why


def test_an_slo_both_meet_picks_the_cheaper_slow_gpu() -> None:
    result = search(f"ttft_p95_ms=5000,itl_p95_ms={itl_by_hand_ms(SLOW) * 1.5:.3f}").run()
    best = result.winner
    assert best is not None and best.shape.gpu.name == "slow" and best.replicas == 1
    assert best.usd_per_hour == pytest.approx(1.0)
    fast = next(c for c in result.candidates if c.shape.gpu.name == "fast" and c.status == MEETS)
    assert "$3.00/h > $1.00/h" in fast.why


def test_a_budget_below_the_winner_leaves_no_best_and_names_the_nearest_miss() -> None:
    limit = (itl_by_hand_ms(SLOW) + itl_by_hand_ms(FAST)) / 2
    result = search(f"ttft_p95_ms=2000,itl_p95_ms={limit:.3f}", budget=2.0).run()
    assert result.best is None and result.winner is None
    near = result.nearest_miss()
    assert near is not None and near.status == OVER_BUDGET and near.shape.gpu.name == "fast"
    assert "budget" in result.no_winner_note() and "fast" in result.no_winner_note()
    assert result.to_json_dict()["best"] is None


def test_an_slo_nothing_meets_says_so_and_names_the_nearest_miss() -> None:
    result = search("ttft_p95_ms=2000,itl_p95_ms=0.01").run()
    assert result.winner is None
    note = result.no_winner_note()
    assert note.startswith("no configuration meets the SLO")
    assert "nearest miss: fast TP1: ITL ≥" in note and "> 0.01 (roofline)" in note


def test_json_has_exactly_the_documented_shape() -> None:
    result = search(f"ttft_p95_ms=5000,itl_p95_ms={itl_by_hand_ms(SLOW) * 1.5:.3f}").run()
    data = result.to_json_dict()
    assert set(data) == {"candidates", "best"}
    keys = {"gpu", "gpus_per_replica", "tensor_parallel", "quantization", "kv_cache_dtype", "max_num_seqs",
            "replicas", "meets_slo", "predicted", "usd_per_hour", "usd_per_million_output_tokens", "why"}  # fmt: skip
    for candidate in data["candidates"]:
        assert set(candidate) == keys
        assert set(candidate["predicted"]) == {
            "ttft_p95_ms",
            "itl_p95_ms",
            "requests_per_s",
            "output_tokens_per_s",
        }
    assert data["candidates"][data["best"]]["meets_slo"] is True
