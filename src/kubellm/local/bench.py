"""`kubellm up --bench`: a short sweep through the gateway with the bench CLI, and manifests for the spec.

Both run as the real commands (`kubellm bench`, `kubellm render`) in subprocesses, exactly as a user
would run them, with their output kept in the run directory.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubellm.errors import KubellmError
from kubellm.local.commands import kubellm_command
from kubellm.local.runner import StackInfo
from kubellm.spec.bench import BenchResults
from kubellm.spec.loader import validate_as

# A short closed-loop sweep: concurrency 1, 2, 4, … until throughput stops rising (or 256 in flight),
# short prompts and answers, a few seconds per level: about 20 s on the quickstart's simulator.
SWEEP_ARGS = (
    "--sweep", "--sweep-max", "256",
    "--input-tokens", "64",
    "--output-tokens", "32",
)  # fmt: skip
DEFAULT_LEVEL_S = 2.0
API_KEY_ENV = "KUBELLM_API_KEY"
BENCH_TIMEOUT_S = 600.0
RENDER_TIMEOUT_S = 120.0


class BenchRunError(KubellmError):
    """The sweep of `up --bench` failed."""


@dataclass(frozen=True)
class BenchOutcome:
    """What `up --bench` reports: the table, the knee, and where results and manifests are."""

    table: str
    knee_note: str
    per_replica_note: str
    results_path: Path
    manifests_dir: Path | None
    render_error: str = ""
    results: BenchResults | None = None

    def to_json_dict(self) -> dict[str, object]:
        return {
            "results": str(self.results_path),
            "knee": self.results.knee.model_dump(mode="json") if self.results and self.results.knee else None,
            "knee_note": self.knee_note,
            "per_replica_note": self.per_replica_note,
            "manifests": str(self.manifests_dir) if self.manifests_dir else None,
            "render_error": self.render_error,
        }


def bench_command(info: StackInfo, out_dir: Path, level_s: float = DEFAULT_LEVEL_S) -> list[str]:
    """The bench CLI call of the sweep (``level_s`` seconds measured per concurrency level)."""
    return [
        *kubellm_command(), "bench", info.endpoint,
        "--model", info.served_name,
        *SWEEP_ARGS,
        "--duration", f"{level_s:g}",
        "--replicas", str(max(1, len(info.replicas))),  # the knee is a total: tune divides by this
        "--out", str(out_dir),
    ]  # fmt: skip


def per_replica_note(results: BenchResults, replicas: int) -> str:
    """The knee of the whole stack read per replica (the gateway spreads the load over ``replicas``)."""
    knee = results.knee
    if knee is None or knee.recommended_max_concurrency is None or replicas < 1:
        return ""
    per = knee.recommended_max_concurrency / replicas
    return (
        f"measured through the gateway over {replicas} replica(s): about {per:g} concurrent requests per "
        f"replica at the knee"
    )


def render_command(spec_path: Path, out_dir: Path) -> list[str]:
    """The render CLI call for the spec that is running."""
    return [*kubellm_command(), "render", str(spec_path), "-o", str(out_dir)]


def _run(argv: list[str], timeout_s: float, api_key: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if api_key is not None:
        env[API_KEY_ENV] = api_key
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)


def _render(spec_path: Path, out_dir: Path) -> str:
    """Render the spec into ``out_dir``; the first line of the error, or '' on success."""
    try:
        rendered = _run(render_command(spec_path, out_dir), RENDER_TIMEOUT_S, None)
    except subprocess.TimeoutExpired:
        return f"`kubellm render` took over {RENDER_TIMEOUT_S:.0f} s"
    if rendered.returncode == 0:
        return ""
    lines = (rendered.stderr + rendered.stdout).strip().splitlines()
    return lines[0] if lines else f"`kubellm render` exited {rendered.returncode}"


def run_bench(
    info: StackInfo, spec_path: Path, api_key: str | None = None, level_s: float = DEFAULT_LEVEL_S
) -> BenchOutcome:
    """Sweep the running stack, read the knee, and render the spec's manifests into the run directory."""
    from kubellm.bench.report import knee_summary

    run_dir = Path(info.run_dir)
    bench_dir = run_dir / "bench"
    argv = bench_command(info, bench_dir, level_s)
    if api_key is not None:
        argv += ["--api-key-env", API_KEY_ENV]
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
    data = json.loads(results_path.read_text(encoding="utf-8"))
    results = validate_as(BenchResults, data, str(results_path))
    manifests = run_dir / "manifests"
    render_error = _render(spec_path, manifests)
    return BenchOutcome(
        table=done.stdout.strip(),
        knee_note=knee_summary(results),
        per_replica_note=per_replica_note(results, len(info.replicas)),
        results_path=results_path,
        manifests_dir=None if render_error else manifests,
        render_error=render_error,
        results=results,
    )
