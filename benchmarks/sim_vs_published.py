"""The simulator beside published and measured serving figures: ITL and output tokens/s, error table.

Each row replays the published conditions in virtual time through the same scheduler `kubellm sim`
serves with (plan → KV pool, limits and step-time model), then prints simulated vs reference and the
relative error. Goal: within ±30 %.

Sources (all in ../shared):
- research/bench_perf.md §B3 — NVIDIA NIM 1.8.0, Llama-3.1-8B-Instruct on 1×H100, fixed concurrency,
  measured with AIPerf (ITL = (E2E − TTFT)/(OSL − 1), i.e. our TPOT). ISL/OSL and precision were not
  captured; an ITL below the bf16 floor means fp8, and the published tok/s ≈ c/ITL with TTFT ≈ 10 ms
  implies short requests, so we use fp8 and 200 in / 200 out [inferred]. c = 64 is interpolated
  between the published c = 50 and c = 100 rows.
- research/bench_perf.md §B2 — NIM 1.8.0, Llama-3.3-70B-Instruct fp8, TP2 on 2×H100, ISL 5000 / OSL 500.
- research/bench_perf.md §B6 — vLLM v0.5 blog: Llama-3-8B bf16 on H100 "1 token every 13 ms under light
  load" (an engine with 62 % CPU overhead per step; shown for reference, outside the goal).
- measurements/README.md — one H200, Llama-3.1-8B bf16, CUDA-graph decode step at context 1,024
  (plain torch, no serving engine). c = 64 is interpolated between the measured batch 32 and 128.
  The planner's decode model was fitted to these points, so these rows check the simulator's
  scheduling on top of the model rather than the model itself.

Run: .venv/bin/python benchmarks/sim_vs_published.py
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kubellm.sim.config import planned_engine
from kubellm.sim.trace import TraceRequest
from kubellm.sim.virtual import replay
from kubellm.spec import LLMService

GOAL = 0.30


@dataclass(frozen=True)
class Reference:
    label: str
    model: str
    gpu: str
    tp: int
    quantization: str
    concurrency: int
    prompt_tokens: int
    output_tokens: int
    itl_ms: float
    tokens_per_s: float | None
    mode: str  # "serve": closed loop, ITL = mean TPOT; "decode": c streams at once, ITL = median step
    in_goal: bool = True
    note: str = ""
    kv_cache_dtype: str = "auto"


NIM_8B = "NIM 1.8 (B3)"
NIM_70B = "NIM 1.8 (B2)"
H200 = "measured H200"
REFERENCES = [
    Reference(
        NIM_8B, "meta-llama/Llama-3.1-8B-Instruct", "h100", 1, "fp8", 1, 200, 200, 4.63, 214.6, "serve"
    ),
    Reference(
        NIM_8B, "meta-llama/Llama-3.1-8B-Instruct", "h100", 1, "fp8", 50, 200, 200, 5.91, 8018, "serve"
    ),
    Reference(
        NIM_8B,
        "meta-llama/Llama-3.1-8B-Instruct",
        "h100",
        1,
        "fp8",
        64,
        200,
        200,
        6.37,
        9193,
        "serve",
        note="interp. 50↔100",
    ),
    Reference(
        NIM_8B, "meta-llama/Llama-3.1-8B-Instruct", "h100", 1, "fp8", 100, 200, 200, 7.57, 12215, "serve"
    ),
    Reference(
        "vLLM 0.5 blog (B6)",
        "meta-llama/Llama-3.1-8B-Instruct",
        "h100",
        1,
        "none",
        1,
        202,
        179,
        13.0,
        None,
        "serve",
        False,
        "old engine",
    ),
    Reference(H200, "meta-llama/Llama-3.1-8B-Instruct", "h200", 1, "none", 1, 896, 256, 6.68, 150, "decode"),
    Reference(H200, "meta-llama/Llama-3.1-8B-Instruct", "h200", 1, "none", 8, 896, 256, 7.48, 1070, "decode"),
    Reference(
        H200, "meta-llama/Llama-3.1-8B-Instruct", "h200", 1, "none", 32, 896, 256, 8.59, 3727, "decode"
    ),
    Reference(
        H200,
        "meta-llama/Llama-3.1-8B-Instruct",
        "h200",
        1,
        "none",
        64,
        896,
        256,
        10.20,
        6275,
        "decode",
        note="interp. 32↔128",
    ),
    Reference(
        H200, "meta-llama/Llama-3.1-8B-Instruct", "h200", 1, "none", 128, 896, 256, 13.41, 9545, "decode"
    ),
    Reference(
        H200, "meta-llama/Llama-3.1-8B-Instruct", "h200", 1, "none", 256, 896, 256, 18.67, 13710, "decode"
    ),
    Reference(
        NIM_70B, "meta-llama/Llama-3.3-70B-Instruct", "h100", 2, "fp8", 1, 5000, 500, 18.58, 51.7, "serve"
    ),
    Reference(
        NIM_70B,
        "meta-llama/Llama-3.3-70B-Instruct",
        "h100",
        2,
        "fp8",
        1,
        5000,
        500,
        18.58,
        51.7,
        "serve",
        kv_cache_dtype="fp8",
        note="fp8 KV",
    ),
    Reference(
        NIM_70B, "meta-llama/Llama-3.3-70B-Instruct", "h100", 2, "fp8", 25, 5000, 500, 38.75, 623, "serve"
    ),
    Reference(
        NIM_70B,
        "meta-llama/Llama-3.3-70B-Instruct",
        "h100",
        2,
        "fp8",
        25,
        5000,
        500,
        38.75,
        623,
        "serve",
        kv_cache_dtype="fp8",
        note="fp8 KV",
    ),
    Reference(
        NIM_70B, "meta-llama/Llama-3.3-70B-Instruct", "h100", 2, "fp8", 50, 5000, 500, 59.7, 814, "serve"
    ),
    Reference(
        NIM_70B,
        "meta-llama/Llama-3.3-70B-Instruct",
        "h100",
        2,
        "fp8",
        50,
        5000,
        500,
        59.7,
        814,
        "serve",
        kv_cache_dtype="fp8",
        note="fp8 KV",
    ),
    Reference(
        NIM_70B, "meta-llama/Llama-3.3-70B-Instruct", "h100", 2, "fp8", 100, 5000, 500, 92.9, 917, "serve"
    ),
    Reference(
        NIM_70B,
        "meta-llama/Llama-3.3-70B-Instruct",
        "h100",
        2,
        "fp8",
        100,
        5000,
        500,
        92.9,
        917,
        "serve",
        kv_cache_dtype="fp8",
        note="fp8 KV",
    ),
]


def simulate(ref: Reference) -> tuple[float, float]:
    """(ITL ms, output tokens/s) of the simulator under the reference's conditions."""
    spec = LLMService.model_validate(
        {
            "metadata": {"name": "bench"},
            "model": {"source": f"hf://{ref.model}", "quantization": ref.quantization},
            "gpu": {"type": ref.gpu, "count": ref.tp},
            "serving": {"max_model_len": 8192, "kv_cache_dtype": ref.kv_cache_dtype},
        }
    )
    _, config, timer = planned_engine(spec, prefix_caching=False)
    if ref.mode == "decode":  # c streams start together; the median gap is the pure decode step
        trace = [TraceRequest(0.0, ref.prompt_tokens, ref.output_tokens) for _ in range(ref.concurrency)]
        summary = replay(config, timer, trace).summary()
        itl = summary["itl_ms"]["p50"]
        return itl, ref.concurrency * 1e3 / itl
    trace = [
        TraceRequest(0.0, ref.prompt_tokens, ref.output_tokens) for _ in range(max(8, 4 * ref.concurrency))
    ]
    summary = replay(config, timer, trace, concurrency=ref.concurrency).summary()
    return summary["tpot_ms"]["mean"], summary["output_tokens_per_s"]


def _err(sim: float, ref: float | None) -> str:
    return "–" if ref is None else f"{(sim - ref) / ref * 100:+.0f} %"


def main() -> None:
    t0 = time.perf_counter()
    header = f"{'source':<20} {'model':<13} {'GPU':<7} {'prec':<5} {'c':>4} {'ISL/OSL':>9} │ {'ITL ref':>8} {'ITL sim':>8} {'err':>6} │ {'tok/s ref':>9} {'tok/s sim':>9} {'err':>6}  note"
    print(header)
    print("─" * len(header))
    in_goal = total = 0
    for ref in REFERENCES:
        itl, tps = simulate(ref)
        ok = abs(itl - ref.itl_ms) <= GOAL * ref.itl_ms and (
            ref.tokens_per_s is None or abs(tps - ref.tokens_per_s) <= GOAL * ref.tokens_per_s
        )
        if ref.in_goal:
            total += 1
            in_goal += ok
        model = "70B" if "70B" in ref.model else "8B"
        gpus = f"{ref.tp}×{ref.gpu.upper()}"
        tps_ref = f"{ref.tokens_per_s:,.0f}" if ref.tokens_per_s else "–"
        note = (
            ("" if ok else "outside ±30 %")
            + (f"; {ref.note}" if ref.note else "")
            + ("" if ref.in_goal else " (not in goal)")
        )
        print(
            f"{ref.label:<20} {model:<13} {gpus:<7} {ref.quantization:<5} {ref.concurrency:>4} "
            f"{ref.prompt_tokens:>4}/{ref.output_tokens:<4} │ {ref.itl_ms:>8.2f} {itl:>8.2f} {_err(itl, ref.itl_ms):>6} │ "
            f"{tps_ref:>9} {tps:>9,.0f} {_err(tps, ref.tokens_per_s):>6}  {note.strip('; ')}"
        )
    print(
        f"\n{in_goal}/{total} rows within ±{GOAL * 100:.0f} % on both ITL and tok/s ({time.perf_counter() - t0:.1f} s)"
    )


if __name__ == "__main__":
    main()
