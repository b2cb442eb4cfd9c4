"""Time of `kubellm plan --slo … --traffic …` over the 8 default GPU types (goal: under 60 s here).

    python benchmarks/sizing_search_time.py

Runs the issue's example — Llama-3.1-8B, TTFT p95 ≤ 1 s, ITL p95 ≤ 50 ms, 20 requests/s of 2,048-token
prompts and 300-token answers — and a closed-loop variant, in this process, and prints wall and CPU
seconds, the shapes planned and simulated, and the answer.
"""

from __future__ import annotations

import time

from kubellm.catalog import default_catalog
from kubellm.cli.sizing import DEFAULT_GPUS
from kubellm.sizing.search import SizingSearch
from kubellm.sizing.slo import parse_slo
from kubellm.sizing.traffic import parse_traffic
from kubellm.spec import LLMService

CASES = (
    ("Llama-3.1-8B", "ttft_p95_ms=1000,itl_p95_ms=50", "rate=20,prompt=2048,output=300"),
    ("Qwen2.5-7B-Instruct", "ttft_p95_ms=500,itl_p95_ms=40", "concurrency=64,prompt=1024±256,output=256"),
)


def main() -> int:
    catalog = default_catalog()
    gpus = [catalog.gpu(name) for name in DEFAULT_GPUS]
    print("| model | SLO | traffic | wall s | CPU s | candidates | simulated | best |")
    print("|---|---|---|---|---|---|---|---|")
    for name, slo, traffic in CASES:
        model = catalog.model(name)
        base = LLMService.model_validate(
            {
                "metadata": {"name": "t"},
                "model": {"source": f"hf://{model.hf_id}", "name": model.name},
                "gpu": {"type": "l4"},
            }
        )
        wall, cpu = time.perf_counter(), time.process_time()
        result = SizingSearch(base, model, parse_traffic(traffic), parse_slo(slo), gpus).run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        simulated = sum(c.prediction is not None for c in result.candidates)
        best = result.winner
        answer = (
            f"{best.replicas} × {best.shape.label}, ${best.usd_per_hour:,.2f}/h"
            if best and best.usd_per_hour
            else "none"
        )
        print(
            f"| {name} | {slo} | {traffic} | {wall:.1f} | {cpu:.1f} | {len(result.candidates)} | {simulated} | {answer} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
