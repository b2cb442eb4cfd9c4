"""Planner accuracy against vLLM's own start-up logs, and the decode model against one H200.

1. The field corpus (benchmarks/data/vllm_field_logs.yaml): public logs from 29 sources (L4 to B200, TP 1-8,
   vLLM 0.6-0.27), split by a seeded hash of the source before they were gathered. Its 'holdout' half carries the
   issue's goal (median |KV-token error| ≤ 3 %, ≥ 90 % within ±10 %, every miss over 10 % explained) but was looked
   at for the GB10 change; the 'tune' half is what the logic was changed against. Its 'fresh' part (9 logs from 9
   new sources, gathered and committed before they were predicted) was predicted untouched once (5.85 %, 78 % within
   ±10 %); the enforce-eager and symmetric-memory all-reduce rules were written after its misses were seen.
2. The llm-d-planner sweep of benchmarks/data/vllm_startup_logs.yaml (one H100, vLLM 0.19): its tune and holdout
   halves, kept apart from the field corpus.
3. Rows per GPU and per vLLM release, the research points of shared/research/validation_points.md (seen while
   building the first model), fit checks, and the decode step time on one H200.

Run:  python benchmarks/planner_accuracy.py            (always exits 0: a report, not a gate)
      python benchmarks/planner_accuracy.py --strict   (exit 1 when the field holdout misses the goal)
      python benchmarks/planner_accuracy.py --terms    (also the activation / non-torch / graph terms)
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass

from planner_field_report import by_gpu_and_version, field_fit_checks, field_table
from planner_log_points import EXPLAINED, Outcome, load_points, predict

from kubellm.catalog import default_catalog
from kubellm.cli.plan import custom_gpu
from kubellm.planning import plan
from kubellm.planning.kv_layout import BLOCK_SIZE
from kubellm.planning.memory import GIB
from kubellm.spec import LLMService


@dataclass(frozen=True)
class Point:
    ref: str  # validation_points.md row
    model: str
    gpu: str  # catalog GPU (its speed figures) ...
    memory_gib: (
        float | None
    )  # ... with the torch-visible total memory of the logged card, when not the catalog's
    tp: int
    util: float
    max_len: int
    generation: str
    logged_tokens: int | None = None
    logged_kv_gib: float | None = None  # when the log gives KV memory rather than tokens
    weights_gib: float | None = None  # total checkpoint size when the log states it (a planner input)
    quantization: str = "none"
    dtype: str = "auto"
    mnbt: int | None = None
    note: str = ""
    version: str = "0.10.1"  # the research logs are from mid-2025 releases unless the log names one


POINTS = [
    Point(
        "#2",
        "Llama-3.1-8B",
        "RTX-4090",
        23.58,
        1,
        0.90,
        20000,
        "v0",
        logged_tokens=31_232,
        note="RTX 3090 (23.58 GiB)",
    ),
    Point(
        "#3",
        "Llama-3.1-8B",
        "RTX-4090",
        23.58,
        1,
        0.90,
        29000,
        "v0",
        logged_tokens=23_648,
        note="RTX 3090; 0.82x → fails",
    ),
    Point(
        "#6",
        "Qwen3-235B-A22B",
        "H100-SXM-80GB",
        None,
        4,
        0.90,
        32768,
        "v1",
        logged_tokens=178_880,
        quantization="fp8",
    ),
    Point(
        "#8",
        "Meta-Llama-3-8B",
        "RTX-4090",
        23.58,
        1,
        0.90,
        8192,
        "v0",
        logged_tokens=37_728,
        note="RTX 3090, vLLM 0.4.1",
    ),
    Point(
        "#9",
        "Llama-3.1-8B",
        "A10G",
        22.07,
        1,
        0.90,
        131072,
        "v0",
        logged_tokens=37_696,
        note="A10 (22.07 GiB)",
    ),
    Point(
        "#10",
        "Phi-4",
        "A100-80GB",
        79.25,
        1,
        0.15,
        2048,
        "v1",
        logged_tokens=11_440,
        weights_gib=8.51,
        quantization="gptq",
        note="AutoRound GPTQ 4-bit",
    ),
    Point(
        "#13",
        "Qwen3-4B",
        "RTX-4090",
        12.00,
        1,
        0.95,
        10000,
        "v0",
        logged_tokens=22_304,
        dtype="float16",
        note="RTX 2060 12 GB",
    ),
    Point(
        "#14",
        "Qwen3-235B-A22B",
        "L40S",
        None,
        4,
        0.90,
        32768,
        "v1",
        logged_tokens=238_208,
        weights_gib=4 * 27.72,
        quantization="fp8",
        note="4×L40S TP4+EP",
    ),
    Point("#17", "gpt-oss-20b", "H100-SXM-80GB", 79.18, 1, 0.90, 16000, "v1", logged_kv_gib=50.28),
    Point(
        "#19",
        "Llama-3.3-70B-Instruct",
        "H100-SXM-80GB",
        None,
        2,
        0.90,
        16000,
        "v1",
        logged_kv_gib=32.0,
        quantization="fp8",
    ),
    Point("#21", "Llama-3.1-8B", "H100-SXM-80GB", None, 1, 0.90, 16000, "v1", logged_kv_gib=51.38),
    Point("#22", "Qwen3-0.6B", "H100-SXM-80GB", None, 1, 0.90, 16000, "v1", logged_kv_gib=64.45),
    Point("#23a", "Qwen3-32B", "H100-SXM-80GB", None, 1, 0.90, 16000, "v1", logged_kv_gib=4.45),
    Point("#23b", "Qwen3-32B", "H100-SXM-80GB", None, 2, 0.90, 16000, "v1", logged_kv_gib=34.49),
    Point(
        "#24", "Qwen2-7B-Instruct", "A100-80GB", 79.25, 1, 0.25, 16384, "v1", logged_tokens=93_872, mnbt=2048
    ),
    Point("#26", "gpt-oss-120b", "A100-80GB", 79.25, 4, 0.80, 16384, "v1", logged_tokens=2_640_144),
    Point(
        "#30",
        "gpt-oss-20b",
        "A100-80GB",
        79.25,
        1,
        0.65,
        131072,
        "v1",
        logged_kv_gib=36.56,
        weights_gib=13.72,
        version="0.19.0",
    ),
]

LEFT_OUT = {
    "#1": "vLLM '~0.6.x/0.7' on A100-40GB logged a 9.37 GiB activation peak at 8,192 tokens, which only "
    "full-vocabulary logits for every token explain (8,192 × 128,256 × 4 B × 2 = 7.8 GiB); 0.6.4 logs (#2, #3) "
    "show no such peak and the log does not pin the version",
    "#4": "the GPU is not stated in the log ('likely H100')",
    "#18": "the log's own figures do not add up (64.38 + 7.38 + 3.33 GiB exceeds 0.9 × 79.18 GiB)",
    "#5": "Llama-3.1-8B with an EAGLE draft model: speculative decoding is not planned yet",
    "#7": "SGLang's memory accounting (the planner follows vLLM's)",
    "#11/#12": "DeepSeek-R1 on vLLM V0: the 256-byte MLA padding is modelled (--vllm-generation v0), but V0's "
    "6.37 GiB MLA activation peak is not, so the prediction would be +28 %",
    "#20": "no token count (the log is a failure: KV −1.44 GiB); checked as 'does not fit' below",
    "#27": "granite-4.0 (hybrid Mamba) is not in the catalog; the Mamba state is planned from a config.json (tests/catalog/test_new_architectures.py) but the log names no config revision",
    "#28, #31, #32": "GPU or settings not in the log",
}


def predict_research(p: Point) -> tuple[int, int]:
    """(predicted tokens, logged tokens) for one point."""
    catalog = default_catalog()
    base = catalog.gpu(p.gpu)
    gpu = custom_gpu(p.memory_gib, base) if p.memory_gib else base
    spec = LLMService.model_validate(
        {
            "metadata": {"name": "validation"},
            "model": {"source": "hf://validation/model", "name": p.model, "quantization": p.quantization,
                      "weights_gib": p.weights_gib, "dtype": p.dtype},
            "gpu": {"type": base.name, "count": p.tp, "memory_utilization": p.util},
            "serving": {"max_model_len": p.max_len, "max_num_batched_tokens": p.mnbt},
        }
    )  # fmt: skip
    result = plan(spec, catalog, gpu=gpu, generation=p.generation, vllm_version=p.version)
    predicted = result.kv_cache.tokens
    if p.logged_tokens is not None:
        return predicted, p.logged_tokens
    assert p.logged_kv_gib is not None
    per_block = result.kv_cache.bytes_per_token * BLOCK_SIZE
    return predicted, int(p.logged_kv_gib * GIB // per_block) * BLOCK_SIZE


def kv_token_table() -> list[float]:
    print("\nResearch points (shared/research/validation_points.md, seen before this model was built)\n")
    print(f"{'point':6} {'model':24} {'GPU':16} {'TP':>2} {'util':>5} {'max_len':>7} {'gen':3} "
          f"{'predicted':>10} {'logged':>10} {'error':>7}")  # fmt: skip
    errors = []
    for p in POINTS:
        predicted, logged = predict_research(p)
        error = (predicted - logged) / logged * 100
        errors.append(error)
        print(f"{p.ref:6} {p.model[:24]:24} {p.gpu[:16]:16} {p.tp:>2} {p.util:>5.2f} {p.max_len:>7} {p.generation:3} "
              f"{predicted:>10,} {logged:>10,} {error:>+6.1f}%")  # fmt: skip
    absolute = [abs(e) for e in errors]
    print(
        f"\n{len(errors)} points: median |error| {statistics.median(absolute):.1f} %, max |error| {max(absolute):.1f} %"
    )
    print("Left out:")
    for ref, why in LEFT_OUT.items():
        print(f"  {ref}: {why}")
    return absolute


def fails_checks() -> None:
    print("\nFit checks")
    checks = [
        (
            "Llama-3.3-70B-Instruct fp8, 1×H100, 16000 (#20: KV −1.44 GiB)",
            "Llama-3.3-70B-Instruct",
            "h100",
            1,
            "fp8",
            16000,
        ),
        ("Llama-3.3-70B-Instruct bf16, 1×H100", "Llama-3.3-70B-Instruct", "h100", 1, "none", None),
        ("Qwen3-32B bf16, 1×H100, 32K", "Qwen3-32B", "h100", 1, "none", 32768),
    ]
    for label, model, gpu, tp, quant, ctx in checks:
        spec = LLMService.model_validate({
            "metadata": {"name": "check"}, "model": {"source": "hf://x/y", "name": model, "quantization": quant},
            "gpu": {"type": gpu, "count": tp}, "serving": {"max_model_len": ctx},
        })  # fmt: skip
        r = plan(spec, vllm_version="0.10.1")  # the research logs' mid-2025 release
        hint = f" → {r.suggestion.what}" if r.suggestion else ""
        print(f"  {label}: fits={r.fits}, KV {r.memory.kv_cache_gib:.2f} GiB{hint}")


def decode_table() -> list[float]:
    print("\nDecode step, Llama-3.1-8B bf16 on one H200, context 1,024 (measured with CUDA graphs)\n")
    measured = {1: 6.683, 8: 7.475, 32: 8.587, 128: 13.41, 256: 18.673}
    spec = LLMService.model_validate({
        "metadata": {"name": "h200"}, "model": {"source": "hf://meta-llama/Llama-3.1-8B"}, "gpu": {"type": "h200", "count": 1},
    })  # fmt: skip
    r = plan(spec)
    print(f"{'batch':>5} {'measured ms':>12} {'predicted ms':>13} {'error':>7}")
    errors = []
    for batch, ms in measured.items():
        predicted = r.performance.decode_ms_by_batch[batch]
        error = (predicted - ms) / ms * 100
        errors.append(abs(error))
        print(f"{batch:>5} {ms:>12.2f} {predicted:>13.2f} {error:>+6.1f}%")
    print(f"max |error| {max(errors):.1f} %  (goal ±20 %)")
    w = r.memory.weights_gib
    print(
        f"\nLlama-3.1-8B: KV bytes/token {r.kv_cache.bytes_per_token:,}; weights {w:.2f} GiB = {w * GIB / 1e9:.2f} GB"
    )
    return errors


def log_table(split: str, terms: bool) -> tuple[list[float], list[str], list[Outcome]]:
    """Predicted vs logged tokens on one llm-d half; returns the absolute errors, unexplained misses, outcomes."""
    title = "held out by the first round, seen since" if split == "holdout" else "tuned on"
    print(
        f"\nllm-d-planner sweep (H100, vLLM 0.19), {split} half ({title}): predicted vs logged KV-cache tokens\n"
    )
    print(f"{'point':50} {'ver':6} {'TP':>2} {'util':>4} {'predicted':>10} {'logged':>10} {'error':>7}"
          + ("   act   nt   cg (GiB, predicted/logged)" if terms else ""))  # fmt: skip
    errors: list[float] = []
    misses: list[str] = []
    left: list[str] = []
    outcomes: list[Outcome] = []
    for p in (q for q in load_points() if q["split"] == split):
        out = predict(p)
        if not isinstance(out, Outcome):
            left.append(f"  {p['id']}: {out}")
            continue
        outcomes.append(out)
        errors.append(abs(out.error))
        extra = ""
        if terms:
            lg = p["logged"]
            extra = (f"  {out.activation_gib:4.2f}/{lg.get('activation_gib') or 0:4.2f} "
                     f"{out.non_torch_gib:4.2f}/{lg.get('non_torch_gib') or 0:4.2f} "
                     f"{out.graphs_gib:4.2f}/{lg.get('cuda_graph_estimate_gib') or 0:4.2f}")  # fmt: skip
        print(f"{p['id'][:50]:50} {p['vllm_version']:6} {p['tp']:>2} {p['gpu_memory_utilization']:>4.2f} "
              f"{out.predicted:>10,} {out.logged:>10,} {out.error:>+6.1f}%{extra}")  # fmt: skip
        if abs(out.error) > 10:
            why = EXPLAINED.get(p["id"])
            misses.append(f"  {p['id']}: {out.error:+.1f} % — {why or 'UNEXPLAINED'}")
    if errors:
        within = sum(1 for e in errors if e <= 10) / len(errors) * 100
        print(f"\n{len(errors)} points: median |error| {statistics.median(errors):.2f} %, "
              f"{within:.0f} % within ±10 %, max |error| {max(errors):.1f} %")  # fmt: skip
    for line in misses:
        print(line)
    if left:
        print("Left out:")
        print("\n".join(left))
    return errors, [m for m in misses if "UNEXPLAINED" in m], outcomes


def main() -> int:
    terms = "--terms" in sys.argv
    fresh = field_table("fresh", terms)
    holdout = field_table("holdout", terms)
    tune = field_table("tune", terms)
    field_fit_checks()
    by_gpu_and_version(fresh.outcomes, "Field fresh")
    by_gpu_and_version(holdout.outcomes, "Field holdout")
    by_gpu_and_version(tune.outcomes, "Field tune")
    log_table("tune", terms)
    _, _, llmd_holdout = log_table("holdout", terms)
    by_gpu_and_version(llmd_holdout, "llm-d holdout")
    kv_token_table()
    fails_checks()
    decode_table()
    print(f"\nField holdout goals (median ≤ 3 %, ≥ 90 % within ±10 %, every miss over 10 % explained): "
          f"{'met' if holdout.goal_met else 'NOT met'} — median {holdout.median:.2f} %, "
          f"{holdout.within_10:.0f} % within ±10 %, {len(holdout.unexplained)} unexplained")  # fmt: skip
    print(f"Field fresh (seen; untouched figure 5.85 %, 78 %): median {fresh.median:.2f} %, {fresh.within_10:.0f} % within ±10 %, "
          f"{len(fresh.errors)} points")  # fmt: skip
    return 1 if "--strict" in sys.argv and not holdout.goal_met else 0


if __name__ == "__main__":
    sys.exit(main())
