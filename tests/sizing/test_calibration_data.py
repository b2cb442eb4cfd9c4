"""The published rows and the calibration are data with rules: the split is the recorded hash rule, every
row names a GPU and model the catalog knows, and the fitted model still matches the H200 measurements."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from kubellm.catalog import default_catalog
from kubellm.planning import PerformanceModel
from kubellm.planning.calibration import default_calibration
from kubellm.sizing.predict import round_s
from kubellm.sizing.traffic import Traffic

DATA = Path(__file__).parents[2] / "benchmarks" / "data" / "published_serving.yaml"
# One H200, Llama-3.1-8B bf16, CUDA-graph decode step at context 1,024 (the project's measurements of
# 2026-11-28, also in benchmarks/sizing_calibrate.py): batch → ms
H200_DECODE_MS = {1: 6.68, 8: 7.48, 32: 8.59, 128: 13.41, 256: 18.67}


@pytest.fixture(scope="module")
def doc() -> dict[str, object]:
    loaded = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_every_source_sits_in_the_part_its_url_hashes_to(doc: dict[str, list[dict[str, str]]]) -> None:
    """The first batch is split by the hash; the second batch is all 'fresh' and comes after it in the file,
    so no source can be moved from a hashed part into the fresh one without the test noticing."""
    parts = [source["part"] for source in doc["sources"]]
    first_fresh = parts.index("fresh")
    assert set(parts[first_fresh:]) == {"fresh"} and "fresh" not in parts[:first_fresh]
    urls = [source["url"] for source in doc["sources"]]
    assert len(set(urls)) == len(urls)
    for source in doc["sources"][:first_fresh]:
        digest = int(hashlib.sha256(("kubellm-sizing-19|" + source["url"]).encode()).hexdigest(), 16)
        assert source["part"] == ("fit" if digest % 2 == 0 else "holdout"), source["id"]
    for source in doc["sources"]:
        assert source["verbatim"].strip() and source["url"].startswith("https://")


def test_rows_measured_on_sharegpt_say_so(doc: dict[str, list[dict[str, object]]]) -> None:
    """ShareGPT rows are replayed with ShareGPT's spread: a row named for ShareGPT, and every row of a source
    measured on ShareGPT alone, carries dataset: sharegpt."""
    sources = {str(s["id"]): s for s in doc["sources"]}
    marked = [row for row in doc["rows"] if row.get("dataset") == "sharegpt"]
    assert len(marked) >= 13
    for row in doc["rows"]:
        source = sources[str(row["source"])]
        text = (str(source["what"]) + str(source["verbatim"])).lower()
        if "sharegpt" in str(row["id"]) or ("sharegpt" in text and "random" not in text):
            assert row.get("dataset") == "sharegpt", row["id"]


def test_rows_cover_enough_gpus_and_name_what_the_catalog_knows(
    doc: dict[str, list[dict[str, object]]],
) -> None:
    catalog = default_catalog()
    sources = {s["id"]: s for s in doc["sources"]}
    rows = doc["rows"]
    assert len(rows) >= 30
    assert len({r["gpu"] for r in rows}) >= 6
    assert {sources[str(r["source"])]["part"] for r in rows} == {"fit", "holdout", "fresh"}
    assert sum(sources[str(r["source"])]["part"] == "fresh" for r in rows) >= 15
    for row in rows:
        catalog.gpu(str(row["gpu"]))
        catalog.model(str(row["model"]))
        assert any(row.get(metric) is not None for metric in ("decode_ms", "ttft_ms", "throughput")), row[
            "id"
        ]


def test_every_gpu_of_the_catalog_has_a_class() -> None:
    calibration = default_calibration()
    for gpu in default_catalog().gpus:
        assert calibration.for_gpu(gpu).name in calibration.classes


@pytest.mark.parametrize(("batch", "measured_ms"), sorted(H200_DECODE_MS.items()))
def test_the_h200_decode_step_stays_within_20_percent_of_the_measurements(
    batch: int, measured_ms: float
) -> None:
    catalog = default_catalog()
    llama = catalog.model("Llama-3.1-8B")
    perf = PerformanceModel(
        llama, catalog.gpu("H200-141GB"), 1, float(llama.weights_bytes_for("bfloat16", None)), 131072.0
    )
    assert perf.decode_step_ms(batch, 1024) == pytest.approx(measured_ms, rel=0.20)


def test_tensor_parallel_all_reduce_grows_with_the_tp_size() -> None:
    link = default_calibration().nvlink
    small = 32 * 1024
    assert link.cost_ms(1, small, 900) == 0
    assert link.cost_ms(2, small, 900) < link.cost_ms(4, small, 900) < link.cost_ms(8, small, 900)


def test_a_closed_loop_round_is_one_request_at_the_loads_decode_speed() -> None:
    """Closed-loop clients start within one round (sizing.predict.round_s): overhead, prefill, then the
    answer at the decode step of the batch one replica serves."""
    catalog = default_catalog()
    llama = catalog.model("Llama-3.1-8B")
    perf = PerformanceModel(
        llama, catalog.gpu("H200-141GB"), 1, float(llama.weights_bytes_for("bfloat16", None)), 131072.0
    )
    traffic = Traffic(concurrency=32, prompt_tokens=1000, output_tokens=400)
    expected_ms = perf.request_overhead_ms + perf.prefill_ms(1000) + 400 * perf.decode_step_ms(32, 1200)
    assert round_s(perf, traffic) == pytest.approx(expected_ms / 1e3)
    # two replicas share the clients: each decodes a batch of 16, a shorter round
    assert round_s(perf, traffic, replicas=2) < round_s(perf, traffic)
    longer = Traffic(concurrency=32, prompt_tokens=1000, output_tokens=800)
    assert round_s(perf, longer) > round_s(perf, traffic)
