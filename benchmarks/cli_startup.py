"""Whole-process start-up time of the CLI: `kubellm --help` (goal < 300 ms) and `kubellm plan …` (< 500 ms).

Run:  python benchmarks/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "kubellm --help": ["--help"],
    "kubellm plan --model meta-llama/Llama-3.1-8B-Instruct --gpu h100": [
        "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "h100",
    ],
    "kubellm plan … --json": ["plan", "--model", "Llama-3.3-70B-Instruct", "--gpu", "h100", "--json"],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    exe = shutil.which("kubellm") or sys.executable
    prefix = [exe] if exe.endswith("kubellm") else [exe, "-m", "kubellm"]
    print(f"{'command':66} {'min ms':>8} {'median ms':>10} {'max ms':>8}")
    for label, argv in COMMANDS.items():
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([*prefix, *argv], check=True, capture_output=True)
            times.append((time.perf_counter() - start) * 1e3)
        print(f"{label:66} {min(times):>8.0f} {statistics.median(times):>10.0f} {max(times):>8.0f}")


if __name__ == "__main__":
    main()
