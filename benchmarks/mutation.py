"""Mutation testing of the arithmetic cores: the kill rate per module, with every surviving mutant either
listed as equivalent (with its reason) in benchmarks/data/mutation_equivalents.yaml or shown here.

Each target runs mutmut 3 in its own scratch folder (build/mutation/<target>/: a copy of src/, tests/, benchmarks/data/ and
pyproject.toml with a [tool.mutmut] section naming the module, or the package, to mutate and the tests
that exercise it). mutmut records which of those tests call each function and runs only those for each mutant, one
worker at a time, with hypothesis seeded so two runs give the same figures.

    pip install -e '.[dev,mutation]'
    python benchmarks/mutation.py                          # every target (~1 h on 2 busy cores)
    python benchmarks/mutation.py --only knee,sse,admission  # some of them
    python benchmarks/mutation.py --only planning-memory --json  # a group: a row per module

Columns: mutants generated; killed (a test failed or timed out); survived, and of those how many the
list calls equivalent (no test can tell: equivalent code or code no input reaches), accepted (a detail
left untested on purpose, such as the length of a quoted excerpt) or none of these (unexplained: shown
below the table with their diff, to kill with a test or to list with a reason). "kill %" is killed /
mutants; "of killable" is killed / (mutants - equivalent), so accepted survivors count against it.
Exit status 1 when a survivor is unexplained or a target ran out of time.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shlex
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
PLAN_SOURCE_TESTS = ("tests/engines/test_drift.py::test_the_tp_search_is_written_once",)


@dataclass(frozen=True)
class Target:
    """One row of the table: a module (or some functions of it) and the tests that exercise it."""

    name: str
    path: str  # under src/
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()  # "func" or "Class.method" globs; empty = the whole module
    # A group: these modules (under path, a folder) mutated in one run, so their tests are traced
    # once; the table gets a row per module.
    modules: tuple[str, ...] = ()
    # Tests that read the source itself (inspect.getsource), which the mutated copy does not keep.
    deselect: tuple[str, ...] = ()

    @property
    def paths(self) -> list[str]:
        return [f"{self.path}/{m}.py" for m in self.modules] if self.modules else [self.path]

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
    # The planner's modules in four groups, each mutated in one run (its tests traced once), cheapest
    # first: most mutants of memory.py and kv_layout.py run a hundred planner tests each.
    *(
        Target(
            f"planning-{group}",
            "src/kubellm/planning",
            PLAN_TESTS,
            modules=modules,
            deselect=PLAN_SOURCE_TESTS,
        )
        for group, modules in (
            ("shapes", ("access", "calibration", "cpu", "instance")),
            ("memory", ("kv_layout", "memory")),
            ("layout", ("explain", "layout", "performance", "resources")),
            ("decisions", ("engine_args", "planner", "recommend", "result", "suggest", "vllm_versions")),
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
        f"only_mutate = [{', '.join(json.dumps(p) for p in target.paths)}]\n"
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
        # A mutant that makes a test hang fails it after 10 s (the slowest test takes about one).
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "--hypothesis-seed=0", "--timeout=10"'
        + "".join(f', "--deselect", {json.dumps(t)}' for t in target.deselect)
        + "]\n"
        'also_copy = ["benchmarks/data"]\n'
        "use_git_change_detection = false\n"
        # Each mutant's worker forks from a process that has only collected the tests, not from the one
        # that ran them all once: a cache filled during that run (the calibration, the catalog) would
        # hand every mutant the unmutated function's result.
        'process_isolation = "forkserver"\n'
    )


def _prepare(target: Target, workdir: Path) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "*.egg-info")
    shutil.copytree(ROOT / "src", workdir / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=ignore)
    # Some tests read published figures from benchmarks/data by path (startup logs, field logs).
    shutil.copytree(ROOT / "benchmarks" / "data", workdir / "benchmarks" / "data", ignore=ignore)
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


def _module_of(mutant: str) -> str:
    """The dotted module a mutant's name starts with (kubellm.planning.memory.x_f__mutmut_1 → …memory)."""
    return re.split(r"\.x(?:_|ǁ)", mutant, maxsplit=1)[0]


def _row(
    target: Target, statuses: dict[str, str], workdir: Path, entries: list[dict[str, Any]], used: list[int]
) -> Row:
    row = Row(target.name, mutants=len(statuses))
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


RUNS: list[dict[str, Any]] = []  # when and at which commit each target was mutated


def _utc_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _commit() -> str:
    """The commit the mutated copy was taken from (+ 'with uncommitted changes' when the tree differs)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run([*git, "status", "--porcelain", "src", "tests"], capture_output=True, text=True)
    return head.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


class _NotRun(Exception):
    """--tabulate: the results of the last run are read as they are."""


def run_target(
    target: Target, timeout_s: float, entries: list[dict[str, Any]], *, rerun: bool = True
) -> list[Row]:
    """Mutate the target and tell its rows: one, or one per module of a group (the run's time then sits
    on the group's first row). Without ``rerun``, tell the rows of the last run's results again."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", target.name).strip("_")
    workdir = SCRATCH / slug
    if not rerun and not (workdir / "mutants").is_dir():
        raise SystemExit(f"error: {target.name} has no earlier run in {workdir} — run it without --tabulate")
    if rerun:
        _prepare(target, workdir)
    # the copy the mutants come from is taken now: record its commit and time, not the ones at the end
    run: dict[str, Any] = {"target": target.name, "started": _utc_now(), "commit": _commit()}
    started = time.monotonic()
    timed_out = False
    try:
        if not rerun:
            raise _NotRun
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
        timed_out = True
    except _NotRun:
        pass
    seconds = time.monotonic() - started
    record = workdir / "run.json"
    if rerun:
        run |= {"seconds": seconds, "timed_out": timed_out}
        record.write_text(json.dumps(run))
    else:
        run = json.loads(record.read_text()) if record.exists() else {"target": target.name}
        seconds, timed_out = float(run.get("seconds", 0.0)), bool(run.get("timed_out", False))
    RUNS.append(run)
    globs = target.mutant_globs()
    statuses = {
        name: status
        for name, status in _results(workdir).items()
        if (not globs or any(fnmatch(name, g) for g in globs)) and name.startswith(target.module + ".")
    }
    used = [0] * len(entries)
    if not target.modules:
        row = _row(target, statuses, workdir, entries, used)
        row.seconds, row.timed_out = seconds, timed_out
        return [row]
    by_module: dict[str, dict[str, str]] = {}
    for name, status in statuses.items():
        by_module.setdefault(_module_of(name), {})[name] = status
    rows = []
    for module in sorted(by_module):
        path = "src/" + module.replace(".", "/") + ".py"
        label = module.removeprefix("kubellm.").replace(".", "/") + ".py"
        rows.append(_row(Target(label, path, target.tests), by_module[module], workdir, entries, used))
    if rows:
        rows[0].seconds = seconds
        for row in rows:
            row.timed_out = timed_out and row.not_run > 0
    return rows


def _table(rows: list[Row]) -> str:
    head = (
        f"{'module':34} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv.':>6} {'accepted':>8} {'unexpl.':>7} "
        f"{'kill %':>6} {'of killable':>11} {'time':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        flag = ", ".join(["timed out"] * r.timed_out + [f"{r.not_run} not run"] * bool(r.not_run))
        flag = f" ({flag})" if flag else ""
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


def _unexplained(rows: list[Row]) -> str:
    out = []
    for r in rows:
        for s in r.unexplained:
            out.append(f"\nunexplained survivor {s.name} ({s.status}) in {s.function}:")
            out += [f"  - {line}" for line in s.was.splitlines()]
            out += [f"  + {line}" for line in s.now.splitlines()]
    return "".join(line + "\n" for line in out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated parts of target names, e.g. knee,planning")
    parser.add_argument("--timeout-min", type=float, default=30.0, help="time box per target (minutes)")
    parser.add_argument("--json", action="store_true", help="print the rows and survivors as JSON")
    parser.add_argument("--write", metavar="FILE", help="also write the table, with when and how, to FILE")
    parser.add_argument(
        "--note", action="append", default=[], help="a line for --write's header (repeatable)"
    )
    parser.add_argument(
        "--tabulate",
        action="store_true",
        help="do not mutate: tell the last run's results again (after editing the equivalents list)",
    )
    args = parser.parse_args(argv)
    if not Path(sys.executable).with_name("mutmut").exists():
        raise SystemExit("error: mutmut is not installed — pip install -e '.[mutation]'")
    entries = load_equivalents()
    rows = []
    for target in _pick(args.only):
        print(f"{'reading' if args.tabulate else 'mutating'} {target.name} ...", file=sys.stderr, flush=True)
        rows += run_target(target, args.timeout_min * 60, entries, rerun=not args.tabulate)
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
        print(_unexplained(rows), end="")
    if args.write:
        command = shlex.join(
            ["python", "benchmarks/mutation.py", *(argv if argv is not None else sys.argv[1:])]
        )
        runs = "\n".join(
            f"#   {run['target']}: mutated {run.get('started', '?')} at {run.get('commit', '?')}"
            for run in RUNS
        )
        Path(args.write).write_text(
            f"# Mutation testing, kill rate per module (benchmarks/mutation.py, mutmut "
            f"{importlib.metadata.version('mutmut')}; survivors explained in "
            f"benchmarks/data/mutation_equivalents.yaml)\n# written {_utc_now()} by: {command}\n{runs}\n"
            + "".join(f"# {line}\n" for line in args.note)
            + "\n"
            + _table(rows)
            + "\n"
            + _unexplained(rows)
        )
    bad = any(r.unexplained or r.timed_out or r.not_run for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
