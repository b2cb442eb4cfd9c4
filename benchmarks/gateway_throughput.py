"""Gateway throughput and added latency on one core, beside vllm-router and straight to the upstream.

Runs the shared peer harness (../shared/peer-bench/gateway/run.py: two fake vLLM upstreams and wrk
on CPU 1, the gateway under test alone on CPU 0) twice — at 64 connections for requests/s and at 8
connections for the latency the gateway adds — and prints one table:

    python benchmarks/gateway_throughput.py                    # ~6-10 min on a quiet 2-core machine
    python benchmarks/gateway_throughput.py --duration 5 --peers none

Columns: req/s, p50/p99 (wrk: request sent → last byte), the gateway's CPU milliseconds per request
(CPU time of its process tree / requests, independent of which side saturates), the ratio to
vllm-router's req/s, and the p50 added over the direct path at the same concurrency. Needs the
harness's setup (``bash setup.sh wrk upstream vllm-router`` in its folder).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT.parent / "shared" / "peer-bench" / "gateway" / "run.py"
KUBELLM = Path(sys.executable).parent / "kubellm"


def run_harness(args: argparse.Namespace, concurrency: int, out: Path) -> list[dict[str, Any]]:
    gateway_cmd = (
        f"{KUBELLM} gateway --model fake-model --backend {{UP1}} --backend {{UP2}} --port {{PORT}} "
        "--routing round-robin --log-level warning"
    )
    cmd = [
        sys.executable,
        str(args.harness),
        "--peers",
        args.peers,
        "--gateway-name",
        "kubellm",
        "--gateway-cmd",
        gateway_cmd,
        "--gateway-url",
        "http://127.0.0.1:18200",
        "--concurrency",
        str(concurrency),
        "--duration",
        str(args.duration),
        "--repeats",
        str(args.repeats),
        "--warmup",
        "2",
        "--wait-quiet",
        str(args.wait_quiet),
        "--retry-noisy",
        "1",
        "--out",
        str(out),
    ]
    print(f"$ {' '.join(cmd)}", file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    files = sorted(out.glob("**/results.json"), key=lambda p: p.stat().st_mtime)
    results: list[dict[str, Any]] = json.loads(files[-1].read_text())["results"]
    for row in results:
        row["concurrency"] = concurrency
    return results


def mean_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("error"):
            continue
        groups.setdefault((row["target"], row["mode"], row["concurrency"]), []).append(row)
    means = []
    for (target, mode, conc), group in groups.items():
        cpu = [r["gw_cpu_ms_per_req"] for r in group if r.get("gw_cpu_ms_per_req") is not None]
        means.append(
            {
                "target": target,
                "mode": mode,
                "concurrency": conc,
                "rps": sum(r["rps"] for r in group) / len(group),
                "p50_ms": sum(r["p50_ms"] for r in group) / len(group),
                "p99_ms": sum(r["p99_ms"] for r in group) / len(group),
                "cpu_ms": sum(cpu) / len(cpu) if cpu else None,
                "runs": len(group),
            }
        )
    return means


def table(means: list[dict[str, Any]]) -> str:
    by_key = {(m["target"], m["mode"], m["concurrency"]): m for m in means}
    lines = [
        "| target | mode | conc | req/s | p50 ms | p99 ms | gw CPU ms/req | ratio to vllm-router | added p50 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in sorted(means, key=lambda m: (m["concurrency"], m["mode"], m["target"])):
        router = by_key.get(("vllm-router", m["mode"], m["concurrency"]))
        direct = by_key.get(("direct", m["mode"], m["concurrency"]))
        ratio = f"{m['rps'] / router['rps']:.2f}" if router and m["target"] != "direct" else "-"
        added = f"{m['p50_ms'] - direct['p50_ms']:.2f}" if direct and m["target"] != "direct" else "-"
        cpu = f"{m['cpu_ms']:.3f}" if m["cpu_ms"] is not None else "-"
        lines.append(
            f"| {m['target']} | {m['mode']} | {m['concurrency']} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | "
            f"{m['p99_ms']:.2f} | {cpu} | {ratio} | {added} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--harness", type=Path, default=HARNESS, help="path of the peer harness run.py")
    parser.add_argument("--peers", default="vllm-router", help="built-in peers of the harness (or 'none')")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--repeats", type=int, default=2, help="measured runs per target and mode")
    parser.add_argument(
        "--wait-quiet", type=float, default=60, help="seconds to wait for other load to settle"
    )
    parser.add_argument("--concurrency", default="64,8", help="comma list of wrk connection counts")
    parser.add_argument(
        "--out", type=Path, default=Path("/tmp/kubellm_gateway_bench"), help="harness output folder"
    )
    parser.add_argument("--json", action="store_true", help="print the mean rows as JSON instead of a table")
    args = parser.parse_args()
    if not args.harness.exists():
        sys.exit(f"error: harness not found at {args.harness} — pass --harness PATH")
    rows: list[dict[str, Any]] = []
    for conc in (int(c) for c in args.concurrency.split(",")):
        rows += run_harness(args, conc, args.out / f"c{conc}")
    means = mean_rows(rows)
    print(json.dumps(means, indent=2) if args.json else table(means))


if __name__ == "__main__":
    main()
