"""Refit the performance model's per-GPU-class calibration on the FIT part of the published rows.

    python benchmarks/sizing_calibrate.py            # print the fitted values and the fit errors
    python benchmarks/sizing_calibrate.py --write    # also write src/kubellm/planning/data/calibration.yaml

Only rows whose source hashes into the "fit" part are used (see the split rule in
benchmarks/data/published_serving.yaml), plus the H200 decode measurements of 2026-11-28 (shared
measurements, Llama-3.1-8B bf16, CUDA graphs, context 1,024), which the fit must keep within ±20 %.
The objective is the sum of squared log errors over every published figure (decode, TTFT, throughput);
a pattern search moves one parameter at a time by a shrinking factor. Classes with no fit rows copy a
measured class (`INHERIT`) and say so in their sources.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from sizing_rows import METRICS, Row, calibrated, load_rows, predict_row, row_plan

from kubellm.catalog import default_catalog
from kubellm.planning import PerformanceModel, Plan
from kubellm.planning.calibration import calibration_from_data, calibration_yaml

CALIBRATION_FILE = Path(__file__).parents[1] / "src" / "kubellm" / "planning" / "data" / "calibration.yaml"
# H200, Llama-3.1-8B bf16, context 1,024: CUDA-graph decode step (ms) by batch (shared measurements)
H200_DECODE_MS = {1: 6.68, 8: 7.48, 32: 8.59, 128: 13.41, 256: 18.67}
ANCHOR_TOLERANCE = 0.20
INHERIT = {"ampere-gddr": "ada", "older": "ada"}
CLASS_PARAMS = {
    "bandwidth_efficiency": (0.5, 0.95),  # engines reach 50–90 % of datasheet bandwidth (research notes)
    "step_overhead_ms": (0.05, 10.0),
    "compute_efficiency": (0.3, 0.9),
}
GLOBAL_PARAMS = {
    ("step", "layer_overhead_us"): (0.0, 200.0),
    ("step", "moe_layer_factor"): (1.0, 10.0),
    ("step", "per_sequence_us"): (0.0, 200.0),
    ("request_overhead_ms",): (1.0, 200.0),
    ("request_overhead_ms_per_extra_gpu",): (0.0, 50.0),
    ("allreduce", "nvlink", "latency_us_tp2"): (2.0, 60.0),
}


def class_of(row: Row, data: dict[str, Any]) -> str:
    cal = calibration_from_data(data)
    return cal.for_gpu(default_catalog().gpu(row.gpu)).name


def _get(data: dict[str, Any], path: Sequence[str]) -> float:
    node: Any = data
    for key in path:
        node = node[key]
    return float(node)


def _set(data: dict[str, Any], path: Sequence[str], value: float) -> None:
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = round(value, 4)


class Objective:
    """Squared log errors of the fit rows (and the H200 anchors) under candidate calibration data."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.plans: dict[str, Plan] = {r.id: row_plan(r) for r in rows}
        h200 = default_catalog().gpu("H200-141GB")
        llama = default_catalog().model("Llama-3.1-8B")
        self.anchor = PerformanceModel(
            llama, h200, 1, float(llama.weights_bytes_for("bfloat16", None)), 131072.0
        )

    def row_error(self, row: Row, data: dict[str, Any]) -> float:
        predicted = predict_row(row, calibrated(calibration_from_data(data)), self.plans[row.id])
        total = 0.0
        for metric in METRICS:
            measured = row.measured(metric)
            if measured is not None and predicted[metric] > 0:
                total += math.log(predicted[metric] / measured) ** 2
        return total

    def anchor_error(self, data: dict[str, Any]) -> float:
        perf = PerformanceModel(**{**_fields(self.anchor), "calibration": calibration_from_data(data)})
        total = 0.0
        for batch, measured in H200_DECODE_MS.items():
            ratio = perf.decode_step_ms(batch, 1024) / measured
            total += math.log(ratio) ** 2
            if abs(ratio - 1) > ANCHOR_TOLERANCE:
                total += 100.0 * (abs(ratio - 1) - ANCHOR_TOLERANCE)
        return total

    def __call__(self, data: dict[str, Any], rows: Sequence[Row], anchors: bool) -> float:
        total = sum(self.row_error(r, data) for r in rows)
        return total + (self.anchor_error(data) if anchors else 0.0)


def _fields(perf: PerformanceModel) -> dict[str, Any]:
    return {name: getattr(perf, name) for name in ("model", "gpu", "tp", "weights_bytes_per_gpu",
                                                   "kv_bytes_per_token_per_gpu", "compute_dtype", "pp")}  # fmt: skip


def pattern_search(
    data: dict[str, Any],
    params: dict[tuple[str, ...], tuple[float, float]],
    cost: Callable[[dict[str, Any]], float],
    log: Callable[[str], None],
) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for path, (
        lo,
        hi,
    ) in params.items():  # a value outside its bounds (e.g. 0 where 1 is the least) starts at the bound
        _set(data, path, min(hi, max(lo, _get(data, path))))
    best = cost(data)
    factor = 1.6
    while factor > 1.03:
        improved = False
        for path, (lo, hi) in params.items():
            current = _get(data, path)
            for candidate in (current * factor, current / factor, current + 0.5 if current == 0 else None):
                if candidate is None or not lo <= candidate <= hi:
                    continue
                trial = copy.deepcopy(data)
                _set(trial, path, candidate)
                value = cost(trial)
                if value < best * (1 - 1e-3) - 1e-9:  # a real improvement, not a slide along a flat valley
                    best, data, improved = value, trial, True
                    log(f"  {'.'.join(path)} = {candidate:.4g}  (objective {best:.4f})")
                    break
        if not improved:
            factor = math.sqrt(factor)
    return data


def fit(
    rows: list[Row], log: Callable[[str], None], only: set[str] | None = None, sweeps: int = 2
) -> dict[str, Any]:
    data = yaml.safe_load(calibration_yaml())
    objective = Objective(rows)
    by_class: dict[str, list[Row]] = {}
    for row in rows:
        by_class.setdefault(class_of(row, data), []).append(row)
    global_params = {p: b for p, b in GLOBAL_PARAMS.items() if only is None or p[-1] in only}
    class_params = {k: b for k, b in CLASS_PARAMS.items() if only is None or k in only}
    for sweep in range(sweeps):
        # the model-wide terms first, so that a class with few (or one model's) rows cannot absorb them
        log(f"sweep {sweep + 1}, global parameters")
        data = pattern_search(data, global_params, lambda d: objective(d, rows, True), log)
        for name, members in sorted(by_class.items()):
            log(f"sweep {sweep + 1}, class {name} ({len(members)} rows)")
            params = {("classes", name, key): bounds for key, bounds in class_params.items()}
            anchors = name == class_of_gpu("H200-141GB", data)
            data = pattern_search(data, params, lambda d, m=members, a=anchors: objective(d, m, a), log)
    for name, like in INHERIT.items():
        row = data["classes"][name]
        for key in CLASS_PARAMS:
            row[key] = data["classes"][like][key]
        row["sources"] = [f"no fit rows: copied from class {like}"]
    for name, members in by_class.items():
        data["classes"][name]["sources"] = sorted({r.url for r in members}) + (
            ["H200 decode measurements (shared measurements, 2026-11-28)"]
            if name == class_of_gpu("H200-141GB", data)
            else []
        )
    return data


def class_of_gpu(gpu: str, data: dict[str, Any]) -> str:
    return calibration_from_data(data).for_gpu(default_catalog().gpu(gpu)).name


def write(data: dict[str, Any]) -> None:
    header = calibration_yaml().split("default_class:", 1)[0]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    CALIBRATION_FILE.write_text(header + body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write the fitted calibration file")
    parser.add_argument(
        "--params", help="fit only these parameters (comma-separated names), the rest as shipped"
    )
    parser.add_argument("--sweeps", type=int, default=2, help="passes over the parameters (default 2)")
    args = parser.parse_args(argv)
    rows = [r for r in load_rows() if r.part == "fit" and not r.data.get("exclude")]
    started = time.perf_counter()
    only = set(args.params.split(",")) if args.params else None
    data = fit(rows, lambda line: print(line, file=sys.stderr, flush=True), only, args.sweeps)
    print(
        yaml.safe_dump({key: value for key, value in data.items() if key != "default_class"}, sort_keys=False)
    )
    print(f"fitted on {len(rows)} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.write:
        write(data)
        print(f"wrote {CALIBRATION_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
