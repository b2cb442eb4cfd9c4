"""How well kubellm's sizing predicts published serving measurements — reported per part of the split.

    python benchmarks/sizing_accuracy.py            # all tables (a few minutes on 2 cores)
    python benchmarks/sizing_accuracy.py --rows     # also every row's prediction

1. Every published row (benchmarks/data/published_serving.yaml) replayed in the simulator on its plan:
   share within ±30 % for decode speed, TTFT and throughput, for the FIT part (the calibration was fitted
   on it) and the HOLDOUT part (never used for fitting) separately.
2. GPU order: pairs of rows that differ only in the GPU (same source, model, load); where the published
   gap is over 15 %, is the predicted order the same?
3. Published (model, GPU, load, latency) points: the sizing search, restricted to the published GPU type and
   numerics, given the published load and the published latencies (+30 %) as the SLO — is the winner's
   throughput within ±30 % of the published one, and does it choose the published GPUs per replica?

The FRESH part is a second batch of sources gathered after the holdout had been read; its first
report (before any change made after gathering it) is the untouched one.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sizing_rows import METRICS, PARTS, Row, load_rows, part_of, predict_row, row_spec, row_traffic

from kubellm.catalog import default_catalog
from kubellm.sizing.search import SizingSearch
from kubellm.spec.service import Slo

TOLERANCE = 0.30
ORDER_GAP = 0.15
SLO_SLACK = 1.30
LABELS = {"decode_ms": "decode (ms/token)", "ttft_ms": "TTFT", "throughput": "throughput"}


@dataclass
class Result:
    row: Row
    predicted: dict[str, float]

    def ratio(self, metric: str) -> float | None:
        measured = self.row.measured(metric)
        value = self.predicted.get(metric)
        if measured is None or value is None or math.isnan(value) or measured <= 0:
            return None
        return value / measured


def within(ratio: float | None) -> bool:
    return ratio is not None and abs(ratio - 1) <= TOLERANCE


def predict_all(rows: Iterable[Row]) -> list[Result]:
    return [Result(row, predict_row(row)) for row in rows]


def accuracy_table(results: list[Result]) -> list[str]:
    lines = ["| part | metric | rows | within ±30 % | share | median |error| |", "|---|---|---|---|---|---|"]
    for part in PARTS:
        for metric in METRICS:
            ratios = [r.ratio(metric) for r in results if r.row.part == part]
            ratios = [x for x in ratios if x is not None]
            if not ratios:
                continue
            good = sum(within(x) for x in ratios)
            errors = sorted(abs(x - 1) for x in ratios)
            median = errors[len(errors) // 2]
            lines.append(
                f"| {part} | {LABELS[metric]} | {len(ratios)} | {good} | {good / len(ratios):.0%} | {median:.0%} |"
            )
    return lines


def rows_table(results: list[Result]) -> list[str]:
    lines = [
        "| part | row | GPU | decode pred/meas | TTFT pred/meas | throughput pred/meas |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = []
        for metric in METRICS:
            ratio = r.ratio(metric)
            measured = r.row.measured(metric)
            cells.append(
                "–" if ratio is None else f"{r.predicted[metric]:.4g} / {measured:.4g} ({(ratio - 1):+.0%})"
            )
        lines.append(f"| {r.row.part} | {r.row.id} | {r.row.gpu} | " + " | ".join(cells) + " |")
    return lines


def _condition(row: Row) -> tuple[object, ...]:
    """Rows with equal conditions differ only in the GPU: same series (publisher and method), model, lengths,
    load and numerics; a source without a series pairs only within itself."""
    d = row.data
    lengths = None if d.get("dataset") == "sharegpt" else (d["prompt"], d.get("max_output", d["output"]))
    return (row.series or d["source"], d["model"], d.get("dataset"), d.get("concurrency"), d.get("rate"),
            d.get("requests"), d.get("quantization"), lengths)  # fmt: skip


def _pair_part(a: Row, b: Row) -> str:
    parts = {a.part, b.part}
    return "fresh" if "fresh" in parts else "holdout" if "holdout" in parts else "fit"


def order_table(results: list[Result]) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """Pairs differing only in the GPU; for each metric whose published gap exceeds 15 %."""
    lines = [
        "| part | rows | metric | published gap | predicted gap | order right |",
        "|---|---|---|---|---|---|",
    ]
    score: dict[str, tuple[int, int]] = {}
    for a, b in itertools.combinations(results, 2):
        if a.row.gpu == b.row.gpu or _condition(a.row) != _condition(b.row):
            continue
        part = _pair_part(a.row, b.row)
        for metric in METRICS:
            ma, mb = a.row.measured(metric), b.row.measured(metric)
            pa, pb = a.predicted.get(metric), b.predicted.get(metric)
            if None in (ma, mb, pa, pb) or not ma or not mb or not pa or not pb:
                continue
            assert ma is not None and mb is not None and pa is not None and pb is not None
            gap = mb / ma - 1
            if abs(gap) <= ORDER_GAP:
                continue
            right = (pb > pa) == (mb > ma)
            good, total = score.get(part, (0, 0))
            score[part] = (good + right, total + 1)
            lines.append(
                f"| {part} | {a.row.id} vs {b.row.id} | {LABELS[metric]} | {gap:+.0%} | {pb / pa - 1:+.0%} | {'yes' if right else 'NO'} |"
            )
    return lines, score


def published_points(rows: list[Row]) -> list[str]:
    """The sizing search on each published (model, GPU, load, latency) point."""
    lines = [
        "| part | point | published | search's winner | throughput pred/pub | GPUs/replica (pub) | agrees |",
        "|---|---|---|---|---|---|---|",
    ]
    catalog = default_catalog()
    for row in rows:
        d = row.data
        if d.get("concurrency") is None or d.get("throughput") is None or d.get("throughput_unit"):
            continue
        if d.get("ttft_ms") is None and d.get("decode_ms") is None:
            continue
        base = row_spec(row)
        slo = Slo(
            ttft_p95_ms=float(d.get("ttft_ms") or 1e6) * SLO_SLACK,
            itl_p95_ms=float(d.get("decode_ms") or 1e6) * SLO_SLACK,
        )
        search = SizingSearch(
            base, catalog.model(d["model"]), row_traffic(row), slo, [catalog.gpu(d["gpu"])],
            quantizations=[d.get("quantization") or "none"], kv_dtypes=[d.get("kv_cache_dtype") or "auto"], mig=False,
        )  # fmt: skip
        result = search.run()
        winner = result.winner
        published = f"c={d['concurrency']}, TTFT {d.get('ttft_ms', '–')}, decode {d.get('decode_ms', '–')} ms"
        tp = int(d.get("tp", 1))
        if winner is None or winner.prediction is None:
            lines.append(
                f"| {row.part} | {row.id} | {published} | none: {result.no_winner_note()} | – | – ({tp}) | no |"
            )
            continue
        ratio = winner.prediction.output_tokens_per_s / float(d["throughput"])
        gpus = winner.shape.gpus_per_replica * winner.replicas
        agrees = within(ratio) and winner.shape.gpus_per_replica == tp and winner.replicas == 1
        lines.append(
            f"| {row.part} | {row.id} | {published} | {winner.replicas} × {winner.shape.label} | "
            f"{winner.prediction.output_tokens_per_s:,.0f} / {d['throughput']:,} ({ratio - 1:+.0%}) | {gpus} ({tp}) | "
            f"{'yes' if agrees else 'NO'} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", action="store_true", help="print every row's prediction")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = load_rows()
    for row in rows:
        if row.part not in PARTS or (row.part != "fresh" and part_of(row.url) != row.part):
            print(f"error: {row.id}: recorded part {row.part} is not the split rule's", file=sys.stderr)
            return 1
    results = predict_all(rows)
    print("## Accuracy on published rows (±30 %)\n")
    print("\n".join(accuracy_table(results)))
    if args.rows:
        print("\n## Every row\n")
        print("\n".join(rows_table(results)))
    lines, score = order_table(results)
    print("\n## GPU order where the published gap is over 15 %\n")
    print("\n".join(lines))
    for part, (good, total) in sorted(score.items()):
        print(f"\n{part}: order right in {good} of {total} comparisons")
    print("\n## Published (model, GPU, load, latency) points: the search's answer\n")
    print("\n".join(published_points(rows)))
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
