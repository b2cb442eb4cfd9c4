"""Under load the simulator moves as a loaded engine does (real HTTP, the plan's step-time model)."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Callable

import httpx
import openai

from kubellm.planning import PerformanceModel
from kubellm.sim.config import planned_engine, service_from_flags

from .conftest import RunningSim

TIME_SCALE = 6.0  # wall seconds per simulated second: keeps client and event-loop overhead small
OUTPUT_TOKENS = 12
# A 1,024-token prompt, so the KV cache read per step grows visibly with the batch. Every request
# sends the same one: after the batch-1 run it sits in the prefix cache and 64 requests prefill fast.
PROMPT = [(i * 7919) % 50_000 for i in range(1024)]


async def _stream_gaps(client: openai.AsyncOpenAI) -> list[float]:
    stream = await client.completions.create(
        model="meta-llama/Llama-3.1-8B-Instruct", prompt=PROMPT, max_tokens=OUTPUT_TOKENS, stream=True
    )
    times: list[float] = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].text:
            times.append(time.perf_counter())
    return [b - a for a, b in itertools.pairwise(times)]


async def _run(url: str, concurrency: int, metrics_url: str) -> tuple[list[float], list[str]]:
    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0, timeout=60)
    scrapes: list[str] = []

    async def scrape() -> None:
        # requests spend the API server's share (the calibrated request overhead) before the scheduler
        # counts them, and a busy host sends 64 slowly: poll until the batch shows, for up to 3 s
        async with httpx.AsyncClient() as http:
            for _ in range(60):
                await asyncio.sleep(0.05)
                text = (await http.get(metrics_url)).text
                if _gauge(text, "vllm:num_requests_running") > 0:
                    break
            scrapes.append(text)

    results = await asyncio.gather(*(_stream_gaps(client) for _ in range(concurrency)), scrape())
    await client.close()
    gaps = [g for r in results[:concurrency] if isinstance(r, list) for g in r]
    return gaps, scrapes


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} missing")


def test_itl_at_64_exceeds_batch_1_by_what_the_plan_predicts(start_sim: Callable[..., RunningSim]) -> None:
    spec = service_from_flags("meta-llama/Llama-3.1-8B-Instruct", "h100", max_model_len=8192)
    plan, config, timer = planned_engine(spec)
    assert isinstance(timer, PerformanceModel)
    sim = start_sim(config, timer, time_scale=TIME_SCALE)

    gaps_1, _ = asyncio.run(_run(sim.v1, 1, f"{sim.base_url}/metrics"))
    gaps_64, scrapes = asyncio.run(_run(sim.v1, 64, f"{sim.base_url}/metrics"))

    context = len(PROMPT) + OUTPUT_TOKENS // 2
    predicted_extra_s = (
        (timer.decode_step_ms(64, context) - timer.decode_step_ms(1, context)) / 1e3 * TIME_SCALE
    )
    measured_extra_s = statistics.median(gaps_64) - statistics.median(gaps_1)
    print(
        f"extra ITL at 64: measured {measured_extra_s * 1e3:.1f} ms, predicted {predicted_extra_s * 1e3:.1f} ms"
    )
    assert predicted_extra_s > 0
    assert abs(measured_extra_s - predicted_extra_s) <= 0.3 * predicted_extra_s, (
        measured_extra_s,
        predicted_extra_s,
    )

    assert _gauge(scrapes[0], "vllm:num_requests_running") > 0
    assert _gauge(scrapes[0], "vllm:kv_cache_usage_perc") > 0
    assert plan.kv_cache.blocks == config.kv_blocks
