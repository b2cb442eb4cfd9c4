"""kubellm lint against checkov: whole-process time on 1,000 generated Deployments and on the corpus,
and which of the corpus's GPU/LLM mistakes each tool flags.

usage: python benchmarks/lint_vs_checkov.py [--runs 3] [--checkov /tmp/venv-checkov/bin/checkov] [--n 1000]

checkov runs from a throwaway venv (create it with `python3 -m venv /tmp/venv-checkov &&
/tmp/venv-checkov/bin/pip install checkov`), with --skip-download and, where `unshare -n` works, in a
network namespace with loopback only — as the peer harness does (its generator and its rule for
"flagged": the overlapping check failed on the same file and field). Both tools are timed as whole
processes, median of --runs runs, on the same machine in the same run. Without checkov the kubellm
half still runs and checkov's column says why it is missing.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests/lint/data/corpus"
MISTAKES = ROOT / "tests/lint/data/gpu_mistakes.tsv"

# Same shape as the peer harness's gen_synthetic.py: one container, pinned image, one port,
# CPU/memory requests, a GPU limit on every 4th Deployment.
TEMPLATE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels: {{app: app-{i}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      containers:
        - name: server
          image: registry.example.com/app:1.{i}
          args: ["--port", "8000"]
          ports:
            - containerPort: 8000
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi{gpu}}}
"""


def generate(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            if i:
                f.write("---\n")
            f.write(TEMPLATE.format(i=i, ns=i % 10, gpu=', nvidia.com/gpu: "1"' if i % 4 == 0 else ""))


def timed(cmd: list[str], timeout_s: float = 120) -> tuple[float, float, int, str]:
    """(wall s, child CPU s, exit code, stdout) of one whole-process run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stdout


def kubellm_cmd(target: Path) -> list[str]:
    exe = Path(sys.executable).with_name("kubellm")
    base = [str(exe)] if exe.exists() else [sys.executable, "-c", "from kubellm.cli.app import main; main()"]
    return [*base, "lint", str(target), "--format", "json", "--no-config"]


def compile_package() -> None:
    """Write the bytecode of the kubellm package the runs import, as installing a wheel does: with
    PYTHONDONTWRITEBYTECODE set (CI, this benchmark's machines) every run would compile the sources
    afresh, which measures the size of the code rather than the linter."""
    spec = importlib.util.find_spec("kubellm")
    for location in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(location, quiet=1)


def checkov_cmd(checkov: str, target_dir: Path) -> list[str]:
    cmd = [
        checkov,
        "-d",
        str(target_dir),
        "--framework",
        "kubernetes",
        "--compact",
        "-o",
        "json",
        "--skip-download",
        "--quiet",
    ]
    if (
        shutil.which("unshare")
        and subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
    ):
        cmd = ["unshare", "-n", *cmd]
    return cmd


def series(cmd: list[str], runs: int) -> dict[str, Any]:
    walls, cpus, last = [], [], ""
    for _ in range(runs):
        wall, cpu, _code, out = timed(cmd)
        walls.append(wall)
        cpus.append(cpu)
        last = out
    return {
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "runs": [round(w, 2) for w in walls],
        "out": last,
    }


def mistakes() -> list[list[str]]:
    return [
        line.split("\t")
        for line in MISTAKES.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def retired_mistakes() -> set[tuple[str, str]]:
    """Corpus mistakes that the linter leaves unflagged on purpose (issue #14's reclassification)."""
    path = MISTAKES.with_name("gpu_mistakes_retired.tsv")
    lines = path.read_text().splitlines() if path.exists() else []
    return {tuple(line.split("\t")[:2]) for line in lines if line and not line.startswith("#")}  # type: ignore[misc]


def kubellm_caught() -> set[tuple[str, str]]:
    from kubellm.lint.loader import load_paths
    from kubellm.lint.registry import all_rules
    from kubellm.lint.runner import lint_loaded

    rules_for: dict[str, set[str]] = defaultdict(set)
    for r in all_rules():
        for m in r.meta.mistakes:
            rules_for[m].add(r.meta.id)
    caught = set()
    for file, mid, _sev, where, _ck, _ev in mistakes():
        findings = lint_loaded(load_paths([str(CORPUS / file)])).findings
        kind = (
            where.removeprefix("kind:")
            if where.startswith("kind:")
            else ("ConfigMap" if where == "ConfigMap" else None)
        )
        if any(f.rule in rules_for[mid] and (kind is None or f.kind == kind) for f in findings):
            caught.add((file, mid))
    return caught


def checkov_caught(report: str) -> set[tuple[str, str]]:
    """The peer harness's rule: the overlapping check failed on the same file, on the same path."""
    data = json.loads(report) if report.strip() else []
    reports = data if isinstance(data, list) else [data]
    failed = [
        c
        for r in reports
        if r.get("check_type") == "kubernetes"
        for c in r["results"].get("failed_checks", [])
    ]
    caught = set()
    for file, mid, _sev, where, check, _ev in mistakes():
        for c in failed:
            if c["check_id"] != check or c["file_path"].rsplit("/", 1)[-1] != file:
                continue
            keys = (c.get("check_result") or {}).get("evaluated_keys") or []
            if where.startswith("kind:") or not keys or any(where in k for k in keys):
                caught.add((file, mid))
    return caught


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--checkov", default=os.environ.get("CHECKOV", "/tmp/venv-checkov/bin/checkov"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kubellm-lint-bench-"))
    synth_dir = work / "synthetic"
    synth_dir.mkdir()
    synth = synth_dir / f"deployments-{args.n}.yaml"
    generate(synth, args.n)
    compile_package()
    subprocess.run(kubellm_cmd(synth), capture_output=True, check=False)  # warm the file cache

    rows: list[tuple[str, str, str]] = []
    k_synth = series(kubellm_cmd(synth), args.runs)
    k_findings = json.loads(k_synth["out"])["summary"]["findings"]
    k_corpus = series(kubellm_cmd(CORPUS), args.runs)
    have_checkov = Path(args.checkov).exists()
    c_synth = c_corpus = None
    if have_checkov:
        c_synth = series(checkov_cmd(args.checkov, synth_dir), args.runs)
        c_corpus = series(checkov_cmd(args.checkov, CORPUS), args.runs)
        c_full = timed([*checkov_cmd(args.checkov, CORPUS)[:-1]])[3]  # without --quiet: passed checks too
    total = len(mistakes())
    k_caught = kubellm_caught()
    c_caught = checkov_caught(c_full) if have_checkov else set()

    def fmt(s: dict[str, Any] | None) -> str:
        return (
            f"{s['wall_s']:.2f} s wall, {s['cpu_s']:.2f} s CPU (runs {s['runs']})"
            if s
            else "checkov not installed"
        )

    rows.append((f"{args.n} Deployments, one file", fmt(k_synth), fmt(c_synth)))
    rows.append((f"corpus ({len(list(CORPUS.glob('*.yaml')))} files)", fmt(k_corpus), fmt(c_corpus)))
    retired = retired_mistakes()
    rows.append(
        (
            f"GPU/LLM mistakes flagged (of {total})",
            f"{len(k_caught)} ({100 * len(k_caught) / total:.0f} %); {len(retired)} retired as false positives "
            f"(tests/lint/data/gpu_mistakes_retired.tsv)",
            f"{len(c_caught)} ({100 * len(c_caught) / total:.0f} %)" if have_checkov else "-",
        )
    )
    print("| measure | kubellm lint | checkov |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")
    if c_synth:
        print(
            f"\nspeed-up on {args.n} Deployments: {c_synth['wall_s'] / k_synth['wall_s']:.1f}x wall "
            f"({k_findings} kubellm findings); on the corpus: {c_corpus['wall_s'] / k_corpus['wall_s']:.1f}x"
            if c_corpus
            else ""
        )
    by_mistake: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for file, mid, *_ in mistakes():
        by_mistake[mid][0] += 1
        by_mistake[mid][1] += (file, mid) in k_caught
        by_mistake[mid][2] += (file, mid) in c_caught
    print("\n| mistake | present | kubellm | checkov |\n|---|---:|---:|---:|")
    for mid, (n, k, c) in sorted(by_mistake.items(), key=lambda kv: (len(kv[0].rstrip("w")), kv[0])):
        print(f"| {mid} | {n} | {k} | {c} |")
    load = os.getloadavg()
    print(
        f"\nload average during the run: {load[0]:.1f} / {load[1]:.1f} (1 / 5 min) on {os.cpu_count()} CPUs; work dir {work}"
    )


if __name__ == "__main__":
    main()
