"""`kubellm up --bench`: a short sweep through the gateway with the bench CLI, and manifests for the spec.

Both run as the real commands (`kubellm bench`, `kubellm render`) in subprocesses, exactly as a user
would run them, with their output kept in the run directory.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubellm.errors import KubellmError
from kubellm.local.commands import kubellm_command
from kubellm.local.runner import StackInfo
from kubellm.spec.bench import BenchResults
from kubellm.spec.loader import validate_as

# A short closed-loop sweep: doubling concurrency until throughput plateaus (or 32 in flight), short
# prompts and answers, so it finishes in well under a minute on the simulator.
SWEEP_ARGS = (
    "--sweep", "--sweep-max", "32",
    "--requests", "24",
    "--input-tokens", "64",
    "--output-tokens", "32",
)  # fmt: skip
BENCH_TIMEOUT_S = 600.0
RENDER_TIMEOUT_S = 120.0


class BenchRunError(KubellmError):
    """The sweep of `up --bench` failed."""


@dataclass(frozen=True)
class BenchOutcome:
    """What `up --bench` reports: the table, the knee, and where results and manifests are."""

    table: str
    knee_note: str
    results_path: Path
    manifests_dir: Path | None
    render_error: str = ""
    results: BenchResults | None = None

    def to_json_dict(self) -> dict[str, object]:
        return {
            "results": str(self.results_path),
            "knee": self.results.knee.model_dump(mode="json") if self.results and self.results.knee else None,
            "knee_note": self.knee_note,
            "manifests": str(self.manifests_dir) if self.manifests_dir else None,
            "render_error": self.render_error,
        }


def bench_command(info: StackInfo, out_dir: Path) -> list[str]:
    """The bench CLI call of the sweep."""
    return [
        *kubellm_command(),
        "bench",
        info.endpoint,
        "--model",
        info.served_name,
        *SWEEP_ARGS,
        "--out",
        str(out_dir),
    ]


def render_command(spec_path: Path, out_dir: Path) -> list[str]:
    """The render CLI call for the spec that is running."""
    return [*kubellm_command(), "render", str(spec_path), "-o", str(out_dir)]


def _run(argv: list[str], timeout_s: float, env_key: str | None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ)
    if env_key is not None:
        env["KUBELLM_API_KEY"] = env_key
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)


def run_bench(info: StackInfo, spec_path: Path, api_key: str | None = None) -> BenchOutcome:
    """Sweep the running stack, read the knee, and render the spec's manifests into the run directory."""
    from kubellm.bench.report import knee_summary

    run_dir = Path(info.run_dir)
    bench_dir = run_dir / "bench"
    argv = bench_command(info, bench_dir)
    if api_key is not None:
        argv += ["--api-key-env", "KUBELLM_API_KEY"]
    try:
        done = _run(argv, BENCH_TIMEOUT_S, api_key)
    except subprocess.TimeoutExpired:
        raise BenchRunError(
            f"the bench sweep did not finish within {BENCH_TIMEOUT_S:.0f} s",
            "run `kubellm bench` by hand with fewer levels",
        ) from None
    (run_dir / "bench.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    results_path = bench_dir / "results.json"
    if done.returncode != 0 or not results_path.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BenchRunError(
            f"`kubellm bench` exited {done.returncode}:\n{tail}", f"read {run_dir / 'bench.log'}"
        )
    import json

    results = validate_as(
        BenchResults, json.loads(results_path.read_text(encoding="utf-8")), str(results_path)
    )

    manifests: Path | None = run_dir / "manifests"
    render_error = ""
    try:
        rendered = _run(render_command(spec_path, run_dir / "manifests"), RENDER_TIMEOUT_S, None)
        if rendered.returncode != 0:
            manifests = None
            render_error = (
                (rendered.stderr or rendered.stdout).strip().splitlines()[-1:][0]
                if (rendered.stderr or rendered.stdout).strip()
                else f"exit {rendered.returncode}"
            )
    except subprocess.TimeoutExpired:
        manifests, render_error = None, f"`kubellm render` took over {RENDER_TIMEOUT_S:.0f} s"
    return BenchOutcome(
        table=done.stdout.strip(),
        knee_note=knee_summary(results),
        results_path=results_path,
        manifests_dir=manifests,
        render_error=render_error,
        results=results,
    )
