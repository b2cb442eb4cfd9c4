"""Mutation testing of the arithmetic cores: the kill rate per module, with every surviving mutant either
listed as equivalent (with its reason) in benchmarks/data/mutation_equivalents.yaml or shown here.

Each target runs mutmut 3 in its own scratch folder (build/mutation/<target>/: a copy of src/, tests/ and
pyproject.toml with a [tool.mutmut] section naming the one module to mutate and the tests that exercise
it). mutmut records which of those tests call each function and runs only those for each mutant, one
worker at a time, with hypothesis seeded so two runs give the same figures.

    pip install -e '.[dev,mutation]'
    python benchmarks/mutation.py                          # every target (~1 h on 2 busy cores)
    python benchmarks/mutation.py --only knee,sse,admission  # some of them
    python benchmarks/mutation.py --only planning/memory.py --json

Columns: mutants generated; killed (a test failed or timed out); survived, and of those how many the
list calls equivalent (no test can tell: equivalent code or code no input reaches), accepted (a detail
left untested on purpose, such as the length of a quoted excerpt) or none of these (unexplained: shown
below the table with their diff, to kill with a test or to list with a reason). "kill %" is killed /
mutants; "of killable" is killed / (mutants - equivalent), so accepted survivors count against it.
Exit status 1 when a survivor is unexplained or a target ran out of time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "benchmarks" / "data" / "mutation_equivalents.yaml"
SCRATCH = ROOT / "build" / "mutation"

BENCH_KNEE_TESTS = ("tests/bench/test_knee*.py",)
SSE_TESTS = ("tests/bench/test_sse*.py",)
ADMISSION_TESTS = ("tests/gateway/test_admission*.py",)
UPSTREAM_TESTS = ("tests/gateway/test_upstream*.py",)
PLAN_TESTS = ("tests/plan", "tests/catalog", "tests/engines", "tests/cli/test_plan_cli.py")


@dataclass(frozen=True)
class Target:
    """One row of the table: a module (or some functions of it) and the tests that exercise it."""

    name: str
    path: str  # under src/
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()  # "func" or "Class.method" globs; empty = the whole module

    @property
    def module(self) -> str:
        return self.path.removeprefix("src/").removesuffix(".py").replace("/", ".")

    def mutant_globs(self) -> list[str]:
        """mutmut's names for the mutants of the chosen functions (x_func / xǁClassǁmethod)."""
        globs = []
        for function in self.functions:
            cls, _, method = function.rpartition(".")
            mangled = f"xǁ{cls}ǁ{method}" if cls else f"x_{function}"
            globs.append(f"{self.module}.{mangled}__mutmut_*")
        return globs


TARGETS = [
    Target("bench/knee.py", "src/kubellm/bench/knee.py", BENCH_KNEE_TESTS),
    Target(
        "SSE parser (bench/client.py)",
        "src/kubellm/bench/client.py",
        SSE_TESTS,
        functions=("error_message_of", "_content_text", "_parsed_event", "SseParser.*"),
    ),
    Target("gateway/admission.py", "src/kubellm/gateway/admission.py", ADMISSION_TESTS),
    Target("gateway/upstream.py", "src/kubellm/gateway/upstream.py", UPSTREAM_TESTS),
    Target("gateway/upstream_httptools.py", "src/kubellm/gateway/upstream_httptools.py", UPSTREAM_TESTS),
    Target("gateway/upstream_aiohttp.py", "src/kubellm/gateway/upstream_aiohttp.py", UPSTREAM_TESTS),
    *(
        Target(f"planning/{module}.py", f"src/kubellm/planning/{module}.py", PLAN_TESTS)
        for module in (
            "access",
            "calibration",
            "cpu",
            "engine_args",
            "explain",
            "instance",
            "kv_layout",
            "layout",
            "memory",
            "performance",
            "planner",
            "recommend",
            "resources",
            "result",
            "suggest",
            "vllm_versions",
        )
    ),
]

KILLED = {"killed", "timeout", "segfault", "caught by type check"}
SURVIVED = {"survived", "suspicious", "no tests"}


@dataclass
class Survivor:
    name: str
    status: str
    function: str
    was: str
    now: str
    why: str | None = None
    kind: str | None = None  # equivalent | unreachable | accepted, from the list


@dataclass
class Row:
    target: str
    mutants: int = 0
    killed: int = 0
    not_run: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def equivalent(self) -> int:
        """Survivors no test can kill: equivalent code, or code no input reaches."""
        return sum(1 for s in self.survivors if s.kind in ("equivalent", "unreachable"))

    @property
    def accepted(self) -> int:
        """Survivors that differ in a detail left untested on purpose (listed with the reason)."""
        return sum(1 for s in self.survivors if s.kind == "accepted")

    @property
    def unexplained(self) -> list[Survivor]:
        return [s for s in self.survivors if not s.why]

    def kill_rate(self) -> float:
        return 100.0 * self.killed / self.mutants if self.mutants else 0.0

    def killable_rate(self) -> float:
        killable = self.mutants - self.equivalent
        return 100.0 * self.killed / killable if killable else 100.0


def _test_paths(target: Target) -> list[str]:
    """The target's test files and folders, globs expanded (sorted, so every run selects the same)."""
    paths = []
    for pattern in target.tests:
        found = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern))
        if not found:
            raise SystemExit(f"error: {target.name}: no tests match {pattern} — fix TARGETS in {__file__}")
        paths += found
    return paths


def _mutmut_section(target: Target) -> str:
    tests = ", ".join(json.dumps(t) for t in _test_paths(target))
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f"only_mutate = [{json.dumps(target.path)}]\n"
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
        # A mutant that makes a test hang fails it after 10 s (the slowest test takes about one).
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "--hypothesis-seed=0", "--timeout=10"]\n'
        "use_git_change_detection = false\n"
    )


def _prepare(target: Target, workdir: Path) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "*.egg-info")
    shutil.copytree(ROOT / "src", workdir / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=ignore)
    pyproject = (ROOT / "pyproject.toml").read_text()
    if "[tool.mutmut]" in pyproject:
        raise SystemExit(
            "error: pyproject.toml has its own [tool.mutmut] — remove it; this script writes one"
        )
    (workdir / "pyproject.toml").write_text(pyproject + _mutmut_section(target))
    # Exists before Python starts, so the PYTHONPATH entry below is not cached as missing.
    (workdir / "mutants" / "src").mkdir(parents=True)


def _mutmut(workdir: Path, *args: str, timeout_s: float | None = None, log: Path | None = None) -> str:
    """Run mutmut (niced) in ``workdir``; its output, or '' when it went to ``log``."""
    exe = Path(sys.executable).with_name("mutmut")
    cmd = ["nice", "-n", "10", str(exe), *args]
    # Child processes the tests start import the mutated copy too.
    env = {**os.environ, "PYTHONPATH": str(workdir / "mutants" / "src"), "PYTHONHASHSEED": "0"}
    out = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    return stdout or ""


def _function_of(target: Target, mutant: str) -> str:
    mangled = mutant.removeprefix(target.module + ".").rsplit("__mutmut_", 1)[0]
    if mangled.startswith("xǁ"):
        return ".".join(mangled[2:].split("ǁ"))
    return mangled.removeprefix("x_")


def _change(diff: str) -> tuple[str, str]:
    """The removed and the added lines of a mutant's diff, each stripped and joined by newlines."""
    was, now = [], []
    for line in diff.splitlines():
        if line.startswith(("---", "+++", "# ")):
            continue
        if line.startswith("-"):
            was.append(line[1:].strip())
        elif line.startswith("+"):
            now.append(line[1:].strip())
    return "\n".join(was), "\n".join(now)


KINDS = ("equivalent", "unreachable", "accepted")


def load_equivalents(path: Path = EQUIVALENTS) -> list[dict[str, Any]]:
    entries = list(yaml.safe_load(path.read_text()) or []) if path.exists() else []
    for entry in entries:
        if entry.get("kind") not in KINDS or not entry.get("why"):
            raise SystemExit(
                f"error: {path}: {entry} — give each entry a kind ({', '.join(KINDS)}) and a why"
            )
    return entries


def _listing(
    entries: list[dict[str, Any]], target: Target, survivor: Survivor, used: list[int]
) -> dict[str, Any] | None:
    """The entry listing this survivor, if one matches (same module, function and change).

    An entry matches on ``was`` and ``now`` (the stripped lines) at most ``count`` times (default 1: a
    second identical change elsewhere in the function must be listed again), or, with ``now: any``, on
    every mutation whose removed lines all lie among ``lines`` (a stretch of code no input reaches).
    """
    for index, entry in enumerate(entries):
        if entry["module"] != target.path or entry["function"] != survivor.function:
            continue
        if entry.get("now") == "any":
            lines = {str(line).strip() for line in entry["lines"]}
            if survivor.was and set(survivor.was.splitlines()) <= lines:
                return entry
        elif (
            str(entry["was"]).strip() == survivor.was
            and str(entry["now"]).strip() == survivor.now
            and used[index] < int(entry.get("count", 1))
        ):
            used[index] += 1
            return entry
    return None


def _results(workdir: Path) -> dict[str, str]:
    statuses = {}
    for line in _mutmut(workdir, "results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status
    return statuses


def run_target(target: Target, timeout_s: float, entries: list[dict[str, Any]]) -> Row:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", target.name).strip("_")
    workdir = SCRATCH / slug
    _prepare(target, workdir)
    row = Row(target.name)
    started = time.monotonic()
    try:
        _mutmut(
            workdir,
            "run",
            "--max-children",
            "1",
            *target.mutant_globs(),
            timeout_s=timeout_s,
            log=workdir / "mutmut.log",
        )
    except subprocess.TimeoutExpired:
        row.timed_out = True
    row.seconds = time.monotonic() - started
    globs = target.mutant_globs()
    statuses = {
        name: status
        for name, status in _results(workdir).items()
        if name.startswith(target.module + ".") and (not globs or any(fnmatch(name, g) for g in globs))
    }
    row.mutants = len(statuses)
    used = [0] * len(entries)
    for name, status in sorted(statuses.items()):
        if status in KILLED:
            row.killed += 1
        elif status in SURVIVED:
            was, now = _change(_mutmut(workdir, "show", name))
            survivor = Survivor(name, status, _function_of(target, name), was, now)
            entry = _listing(entries, target, survivor, used)
            if entry is not None:
                survivor.why, survivor.kind = str(entry["why"]), str(entry["kind"])
            row.survivors.append(survivor)
        else:
            row.not_run += 1
    return row


def _table(rows: list[Row]) -> str:
    head = (
        f"{'module':34} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv.':>6} {'accepted':>8} {'unexpl.':>7} "
        f"{'kill %':>6} {'of killable':>11} {'time':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        flag = " (timed out)" if r.timed_out else (f" ({r.not_run} not run)" if r.not_run else "")
        lines.append(
            f"{r.target:34} {r.mutants:7d} {r.killed:6d} {len(r.survivors):8d} {r.equivalent:6d} "
            f"{r.accepted:8d} {len(r.unexplained):7d} {r.kill_rate():6.1f} {r.killable_rate():11.1f} {r.seconds:5.0f}s{flag}"
        )
    total = Row("total")
    for r in rows:
        total.mutants += r.mutants
        total.killed += r.killed
        total.survivors += r.survivors
        total.seconds += r.seconds
    lines.append("-" * len(head))
    lines.append(
        f"{'total':34} {total.mutants:7d} {total.killed:6d} {len(total.survivors):8d} "
        f"{total.equivalent:6d} {total.accepted:8d} {len(total.unexplained):7d} {total.kill_rate():6.1f} "
        f"{total.killable_rate():11.1f} {total.seconds:5.0f}s"
    )
    return "\n".join(lines)


def _pick(only: str | None) -> list[Target]:
    if not only:
        return TARGETS
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    picked = [t for t in TARGETS if any(w.lower() in t.name.lower() for w in wanted)]
    if not picked:
        names = ", ".join(t.name for t in TARGETS)
        raise SystemExit(f"error: --only {only} names no target — pick among: {names}")
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated parts of target names, e.g. knee,planning/memory.py")
    parser.add_argument("--timeout-min", type=float, default=30.0, help="time box per target (minutes)")
    parser.add_argument("--json", action="store_true", help="print the rows and survivors as JSON")
    args = parser.parse_args(argv)
    if not Path(sys.executable).with_name("mutmut").exists():
        raise SystemExit("error: mutmut is not installed — pip install -e '.[mutation]'")
    entries = load_equivalents()
    rows = []
    for target in _pick(args.only):
        print(f"mutating {target.name} ...", file=sys.stderr, flush=True)
        rows.append(run_target(target, args.timeout_min * 60, entries))
    if args.json:
        out = [
            {
                **asdict(r),
                "equivalent": r.equivalent,
                "kill_rate": r.kill_rate(),
                "of_killable": r.killable_rate(),
            }
            for r in rows
        ]
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(_table(rows))
        for r in rows:
            for s in r.unexplained:
                print(f"\nunexplained survivor {s.name} ({s.status}) in {s.function}:")
                print("\n".join(f"  - {line}" for line in s.was.splitlines()))
                print("\n".join(f"  + {line}" for line in s.now.splitlines()))
    bad = any(r.unexplained or r.timed_out or r.not_run for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
