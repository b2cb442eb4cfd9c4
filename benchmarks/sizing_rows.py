"""Published serving measurements (benchmarks/data/published_serving.yaml) and what kubellm predicts
for each: the row's model, GPU and engine limits planned, its load replayed in the simulator.

Shared by sizing_calibrate.py (fit part) and sizing_accuracy.py (both parts, reported apart).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubellm.catalog import default_catalog
from kubellm.planning import PerformanceModel, Plan, plan
from kubellm.planning.calibration import Calibration
from kubellm.sizing import Traffic, simulate
from kubellm.spec import LLMService

DATA = Path(__file__).parent / "data" / "published_serving.yaml"
SALT = "kubellm-sizing-19|"
METRICS = ("decode_ms", "ttft_ms", "throughput")
TimerHook = Callable[[PerformanceModel], PerformanceModel]


PARTS = ("fit", "holdout", "fresh")


def part_of(url: str) -> str:
    """The split rule of the first batch recorded in the data file: a seeded hash of the source URL.
    (Sources of the second batch say ``part: fresh`` and are not hashed.)"""
    return "fit" if int(hashlib.sha256((SALT + url).encode()).hexdigest(), 16) % 2 == 0 else "holdout"


@dataclass(frozen=True)
class Row:
    data: dict[str, Any]
    part: str
    url: str
    series: str = ""

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def gpu(self) -> str:
        return str(self.data["gpu"])

    def measured(self, metric: str) -> float | None:
        value = self.data.get(metric)
        return float(value) if value is not None else None


def load_rows(path: Path = DATA) -> list[Row]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources = {s["id"]: s for s in doc["sources"]}
    rows = []
    for data in doc["rows"]:
        source = sources[data["source"]]
        rows.append(Row(data, source["part"], source["url"], str(source.get("series", ""))))
    return rows


def engine_name(row: Row) -> str:
    text = str(row.data.get("engine", "vllm"))
    return "trtllm" if "trtllm" in text else "vllm"


def row_spec(row: Row) -> LLMService:
    d = row.data
    model = default_catalog().model(d["model"])
    settings = d.get("settings", {})
    longest = int(d["prompt"]) + int(d["output"])
    engine = str(d.get("engine", "vllm"))
    serving: dict[str, Any] = {
        "max_model_len": int(
            settings.get("max_model_len") or min(model.max_position_embeddings, max(longest, 4096))
        ),
        # vLLM caches prefixes by default since V1 (a preempted request keeps its computed blocks)
        "prefix_caching": not engine.startswith("vllm 0.6"),
    }
    if d.get("kv_cache_dtype"):
        serving["kv_cache_dtype"] = d["kv_cache_dtype"]
    gpu: dict[str, Any] = {"type": d["gpu"], "count": int(d.get("tp", 1))}
    if "gpu_memory_utilization" in settings:
        gpu["memory_utilization"] = settings["gpu_memory_utilization"]
    model_section: dict[str, Any] = {"source": f"hf://{model.hf_id or 'x/' + model.name}", "name": model.name}
    if d.get("quantization"):
        model_section["quantization"] = d["quantization"]
    return LLMService.model_validate(
        {
            "metadata": {"name": "row"},
            "model": model_section,
            "engine": {"name": engine_name(row)},
            "gpu": gpu,
            "serving": serving,
        }
    )


def row_traffic(row: Row) -> Traffic:
    """The row's load; ShareGPT rows keep their mean lengths with ShareGPT's spread around them."""
    d = row.data
    prompt, output = int(d["prompt"]), int(d["output"])
    shape = "sharegpt" if d.get("dataset") == "sharegpt" else "uniform"
    if d.get("concurrency") is not None:
        requests = d.get("requests") or max(40, 20 * int(d["concurrency"]))
        return Traffic(
            concurrency=int(d["concurrency"]),
            prompt_tokens=prompt,
            output_tokens=output,
            requests=int(requests),
            length_shape=shape,
        )
    if d.get("rate") is not None:
        return Traffic(
            rate=float(d["rate"]),
            prompt_tokens=prompt,
            output_tokens=output,
            requests=int(d["requests"]),
            length_shape=shape,
        )
    return Traffic(
        prompt_tokens=prompt, output_tokens=output, requests=int(d["requests"]), length_shape=shape
    )


def row_plan(row: Row) -> Plan:
    return plan(row_spec(row))


def predict_row(row: Row, hook: TimerHook | None = None, the_plan: Plan | None = None) -> dict[str, float]:
    """Predicted decode_ms, ttft_ms and throughput of a row (in the row's statistics and units)."""
    p = the_plan or row_plan(row)
    perf = p.performance_model
    if hook is not None:
        perf = hook(perf)
    prediction = simulate(p, row_traffic(row), timer=perf, prefix_caching=p.spec.serving.prefix_caching)
    ttft_stat = row.data.get("ttft_stat", "p50")
    decode_stat = row.data.get("decode_stat", "p50")
    throughput = (
        prediction.requests_per_s
        if row.data.get("throughput_unit") == "requests_per_s"
        else prediction.output_tokens_per_s
    )
    return {
        "decode_ms": prediction.tpot_ms.stat(decode_stat) or math.nan,
        "ttft_ms": prediction.ttft_ms.stat(ttft_stat) or math.nan,
        "throughput": throughput,
    }


def calibrated(calibration: Calibration) -> TimerHook:
    """A hook that prices steps with ``calibration`` instead of the shipped one."""

    def hook(perf: PerformanceModel) -> PerformanceModel:
        return dataclasses.replace(perf, calibration=calibration)

    return hook
