"""Gateway throughput and added latency on one core, beside vllm-router and straight to the upstream.

Runs the shared peer harness (../shared/peer-bench/gateway/run.py: two fake vLLM upstreams and wrk
on CPU 1, the gateway under test alone on CPU 0) twice — at 64 connections for requests/s and at 8
connections for the latency the gateway adds — and prints one table:

    python benchmarks/gateway_throughput.py                    # ~6-10 min on a quiet 2-core machine
    python benchmarks/gateway_throughput.py --duration 5 --peers none
    python benchmarks/gateway_throughput.py --upstream-clients httptools,aiohttp   # both clients, side by side

Columns: req/s, p50/p99 (wrk: request sent → last byte), the gateway's CPU milliseconds per request
(CPU time of its process tree / requests, independent of which side saturates), the ratio to
vllm-router's req/s, the p50 added over the direct path at the same concurrency, and the CPU other
processes used during the runs (% of one core: a busy machine makes every figure but CPU/request
swing). Below the table, issue 7's goals (>= 0.35 of vllm-router's req/s non-streaming and >= 0.50
streaming at 64 connections, < 1 ms added p50 at 8), met or not, for each kubellm row. Needs the
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
# The harness sits in shared/ beside the checkout (../shared from the main checkout; one level further
# up from a worktree kept in a sibling folder): the first that exists.
HARNESS_CANDIDATES = [base / "shared" / "peer-bench" / "gateway" / "run.py" for base in ROOT.parents[:2]]
HARNESS = next((path for path in HARNESS_CANDIDATES if path.exists()), HARNESS_CANDIDATES[0])
KUBELLM = Path(sys.executable).parent / "kubellm"


def gateway_args(clients: list[str]) -> list[str]:
    """--gateway-name/-cmd/-url for kubellm with each upstream client (httptools is plain 'kubellm')."""
    args: list[str] = []
    for number, client in enumerate(clients):
        gateway_cmd = (
            f"{KUBELLM} gateway --model fake-model --backend {{UP1}} --backend {{UP2}} --port {{PORT}} "
            f"--routing round-robin --log-level warning --upstream-client {client}"
        )
        name = "kubellm" if client == "httptools" else f"kubellm-{client}"
        url = f"http://127.0.0.1:{18200 + number}"
        args += ["--gateway-name", name, "--gateway-cmd", gateway_cmd, "--gateway-url", url]
    return args


def run_harness(args: argparse.Namespace, concurrency: int, out: Path) -> list[dict[str, Any]]:
    cmd = [
        sys.executable,
        str(args.harness),
        "--peers",
        args.peers,
        *gateway_args(args.upstream_clients.split(",")),
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
    # the harness exits 1 when a row failed; its results still hold every other row (errors are shown)
    subprocess.run(cmd, check=False, stdout=sys.stderr)
    return read_results(out, concurrency)


def read_results(out: Path, concurrency: int) -> list[dict[str, Any]]:
    """The rows of the newest harness run under ``out``, tagged with the connection count."""
    files = sorted(out.glob("**/results.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        sys.exit(f"error: no results.json under {out} — the harness failed; its log is above")
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
                "other_pct": sum(r.get("other_pct", 0.0) for r in group) / len(group),
                "runs": len(group),
            }
        )
    return means


def failures(rows: list[dict[str, Any]]) -> list[str]:
    """One line per failed harness run (a target that did not answer, wrk errors…)."""
    return [
        f"failed: {r['target']} {r['mode']} at {r['concurrency']} connections: {r['error']}"
        for r in rows
        if r.get("error")
    ]


def table(means: list[dict[str, Any]]) -> str:
    by_key = {(m["target"], m["mode"], m["concurrency"]): m for m in means}
    lines = [
        "| target | mode | conc | req/s | p50 ms | p99 ms | gw CPU ms/req | ratio to vllm-router | added p50 ms "
        "| other load % |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in sorted(means, key=lambda m: (m["concurrency"], m["mode"], m["target"])):
        router = by_key.get(("vllm-router", m["mode"], m["concurrency"]))
        direct = by_key.get(("direct", m["mode"], m["concurrency"]))
        ratio = f"{m['rps'] / router['rps']:.2f}" if router and m["target"] != "direct" else "-"
        added = f"{m['p50_ms'] - direct['p50_ms']:.2f}" if direct and m["target"] != "direct" else "-"
        cpu = f"{m['cpu_ms']:.3f}" if m["cpu_ms"] is not None else "-"
        lines.append(
            f"| {m['target']} | {m['mode']} | {m['concurrency']} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | "
            f"{m['p99_ms']:.2f} | {cpu} | {ratio} | {added} | {m['other_pct']:.0f} |"
        )
    return "\n".join(lines)


# Issue 7's goals on one core: share of vllm-router's req/s at 64 connections, p50 added at 8.
GOALS: list[tuple[str, int, str, float]] = [
    ("nonstream", 64, "ratio", 0.35),
    ("stream", 64, "ratio", 0.50),
    ("nonstream", 8, "added", 1.0),
    ("stream", 8, "added", 1.0),
]


def goal_lines(means: list[dict[str, Any]]) -> list[str]:
    """One line per kubellm row and goal: the figure, the goal, met or not (missing rows are skipped)."""
    by_key = {(m["target"], m["mode"], m["concurrency"]): m for m in means}
    lines = []
    for target in sorted({m["target"] for m in means if m["target"].startswith("kubellm")}):
        for mode, conc, kind, goal in GOALS:
            row, peer = by_key.get((target, mode, conc)), by_key.get(("vllm-router", mode, conc))
            direct = by_key.get(("direct", mode, conc))
            if row is None:
                continue
            if kind == "ratio" and peer is not None:
                value = row["rps"] / peer["rps"]
                met = value >= goal
                text = f"{value:.2f} of vllm-router's req/s (goal >= {goal:.2f})"
            elif kind == "added" and direct is not None:
                value = row["p50_ms"] - direct["p50_ms"]
                met = value < goal
                text = f"added p50 {value:.2f} ms (goal < {goal:g} ms)"
            else:
                continue
            lines.append(f"{target} {mode} at {conc} connections: {text}: {'met' if met else 'NOT met'}")
    return lines


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
        "--upstream-clients",
        default="httptools",
        help="kubellm's upstream clients, comma list of httptools, aiohttp (rows kubellm, kubellm-aiohttp)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("/tmp/kubellm_gateway_bench"), help="harness output folder"
    )
    parser.add_argument("--json", action="store_true", help="print the mean rows as JSON instead of a table")
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="measure nothing: print the table of the last run kept under --out",
    )
    args = parser.parse_args()
    clients = args.upstream_clients.split(",")
    unknown = sorted(set(clients) - {"httptools", "aiohttp"})
    if unknown:
        sys.exit(f"error: unknown upstream client {', '.join(unknown)} — use httptools, aiohttp or both")
    if not args.harness.exists():
        sys.exit(f"error: harness not found at {args.harness} — pass --harness PATH")
    rows: list[dict[str, Any]] = []
    for conc in (int(c) for c in args.concurrency.split(",")):
        if args.from_results:
            rows += read_results(args.out / f"c{conc}", conc)
        else:
            rows += run_harness(args, conc, args.out / f"c{conc}")
    means = mean_rows(rows)
    if args.json:
        print(json.dumps(means, indent=2))
    else:
        print(table(means))
        print()
        print("\n".join([*goal_lines(means), *failures(rows)]))


if __name__ == "__main__":
    main()
