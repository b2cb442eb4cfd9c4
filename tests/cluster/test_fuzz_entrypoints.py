"""0 crashes on any input, over every doctor entry point that takes user input.

Inputs start from the real objects the recorded dumps hold (kube-scheduler v1.36 and the GKE-shaped dumps) and are
mutated at random paths — a value replaced by any JSON value, a key dropped, a list cut — so every diagnoser sees
realistic shapes with wrong types in them. Pasted text (JSON, YAML, describe), dump directories (truncated files,
random bytes), the status/--wait reading, the planner-backed fixes and the CLI itself are all covered.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kubellm.cli.app import app
from kubellm.cluster.blockers import blocking_finding
from kubellm.cluster.doctor import diagnose, diagnose_text
from kubellm.cluster.findings import CATEGORIES, SEVERITY_ORDER, Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.logdiagnosis import match_log
from kubellm.cluster.planfix import kv_cache_fix
from kubellm.cluster.snapshot import ClusterSnapshot, load_dump, parse_metrics
from kubellm.cluster.status import rollout_progress, service_status
from kubellm.planning import plan
from kubellm.spec import LLMService

DATA = Path(__file__).parent / "data"
DUMPS = (
    "dump-real-placement",
    "dump-real-scope",
    "dump-real-wait",
    "dump-real-scheduler",
    "dump-a100-crashloop",
    "dump-l4-yaml",
    "dump-partial",
)
DUMP_FILES = sorted(p for d in DUMPS for p in (DATA / d).rglob("*") if p.is_file() and p.suffix != ".md")


def _real_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for name in DUMPS:
        snap = load_dump(DATA / name)
        objects += snap.nodes + snap.pods + snap.events + snap.workloads + (snap.runtime_classes or [])
    return objects


REAL = _real_objects()
_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
)
_json = st.recursive(
    _leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)
HINTS = [
    DoctorHints(),
    DoctorHints(namespace="doctor2-sched"),
    DoctorHints(namespace="llm", service="llama-8b", gpu_resource="nvidia.com/gpu", gpus_per_pod=2),
    DoctorHints(gpu_products=("NVIDIA-L4",), gpu_resource="nvidia.com/mig-3g.40gb", runtime_class="nvidia"),
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A real object with one to four random edits: a value replaced by any JSON value, a key or item dropped."""
    obj = copy.deepcopy(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(obj) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(_json)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            del parent[path[-1] :]
    return obj


def _valid(findings: list[Finding]) -> None:
    for finding in findings:
        assert finding.category in CATEGORIES and finding.severity in SEVERITY_ORDER
        assert (
            isinstance(finding.object, str)
            and isinstance(finding.fix, str)
            and isinstance(finding.cause, str)
        )
        json.dumps(finding.to_json_dict())


def _snapshot(objects: list[dict[str, Any]]) -> ClusterSnapshot:
    snap = ClusterSnapshot(runtime_classes=[])
    for obj in objects:
        snap.add_object(obj)
    return snap


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=8), st.sampled_from(HINTS))
def test_diagnose_status_and_wait_never_crash_on_mutated_real_objects(
    objects: list[dict[str, Any]], hints: DoctorHints
) -> None:
    snap = _snapshot(objects)
    findings = diagnose(snap, hints)
    _valid(findings)
    progress = rollout_progress(snap, findings)
    assert isinstance(progress.line, str)
    blocking_finding(snap, findings)
    json.dumps(service_status(snap, "llama-8b", "llm"), default=str)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=5), st.sampled_from(["json", "yaml"]), st.floats(0, 1))
def test_pasted_objects_and_their_truncations_never_crash(
    objects: list[dict[str, Any]], form: str, cut: float
) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": objects}
    text = json.dumps(doc, indent=2, default=str) if form == "json" else yaml.safe_dump(doc, sort_keys=False)
    _valid(diagnose_text(text))
    _valid(diagnose_text(text[: int(len(text) * cut)]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(DUMP_FILES), st.floats(0, 1)), min_size=1, max_size=6),
    st.dictionaries(
        st.sampled_from(
            ["nodes.json", "pods.yaml", "events.json", "jobs.yml", "metrics.prom", "logs/llm_p_c.log"]
        ),
        st.binary(max_size=300),
        max_size=3,
    ),
)
def test_dump_directories_with_cut_or_garbage_files_never_crash(
    tmp_path_factory: Any, cuts: list[tuple[Path, float]], garbage: dict[str, bytes]
) -> None:
    root = tmp_path_factory.mktemp("dump")
    for index, (source, cut) in enumerate(cuts):
        data = source.read_bytes()
        target = (
            root / f"{index}-{source.name}" if "logs" not in source.parts else root / "logs" / source.name
        )
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(data[: int(len(data) * cut)])
    for name, data in garbage.items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(data)
    snap = load_dump(root)
    _valid(diagnose(snap, DoctorHints(namespace="llm")))
    assert all(isinstance(w, str) for w in snap.warnings)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_metrics_text_never_crashes(text: str) -> None:
    for sample in parse_metrics(text):
        assert isinstance(sample.value, float)


_PLAN = plan(
    LLMService.model_validate(
        {
            "metadata": {"name": "llama-8b"},
            "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
            "gpu": {"type": "L4", "count": 1},
            "serving": {"max_model_len": 8192},
        }
    )
)


@settings(max_examples=100, deadline=None)
@given(
    st.none() | st.integers(0, 10**9),
    st.none() | st.integers(0, 10**9),
    st.booleans(),
    st.sampled_from(["{:,}", "{}", "{}0000000000000000000"]),
)
def test_kv_cache_fixes_never_crash_on_any_numbers(
    fit: int | None, asked: int | None, with_plan: bool, spelling: str
) -> None:
    fix = kv_cache_fix(fit, asked, _PLAN if with_plan else None)
    assert fix is None or fix.startswith("Max model length that fits")
    if fit is not None:
        line = (
            f"ValueError: To serve at least one request with the models's max seq len ({spelling.format(asked or 0)}), "
            f"the estimated maximum model length is {spelling.format(fit)}."
        )
        _valid(match_log(line, "log/x", plan=_PLAN if with_plan else None))


runner = CliRunner()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600) | st.sampled_from([p.read_bytes()[:400] for p in DUMP_FILES]))
def test_cli_logs_from_stdin_never_crashes(data: bytes) -> None:
    result = runner.invoke(app, ["doctor", "--logs", "-", "--json"], input=data)
    assert result.exit_code in (0, 1), result.output
    assert isinstance(json.loads(result.stdout)["findings"], list)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=6))
def test_cli_from_dump_never_crashes(tmp_path_factory: Any, objects: list[dict[str, Any]]) -> None:
    root = tmp_path_factory.mktemp("dump")
    (root / "objects.json").write_text(json.dumps({"kind": "List", "items": objects}, default=str))
    result = runner.invoke(app, ["doctor", "--from-dump", str(root), "--service", "llama-8b", "--json"])
    assert result.exit_code in (0, 1), result.output
    json.loads(result.stdout)
