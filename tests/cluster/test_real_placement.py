"""Placement cases recorded from the real kube-scheduler v1.36 (tests/cluster/data/dump-real-placement/README.md):
node filtering by selector, affinity and taints before any node-size reasoning, and a device plugin that is down."""

from __future__ import annotations

from pathlib import Path

from kubellm.cluster.blockers import rollout_findings
from kubellm.cluster.doctor import diagnose
from kubellm.cluster.findings import Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.snapshot import load_dump
from kubellm.cluster.status import rollout_progress

DATA = Path(__file__).parent / "data"
DUMP = DATA / "dump-real-placement"


def findings_for(hints: DoctorHints | None = None) -> dict[str, list[Finding]]:
    by_object: dict[str, list[Finding]] = {}
    for finding in diagnose(load_dump(DUMP), hints or DoctorHints(namespace="doctor2-sched")):
        by_object.setdefault(finding.object, []).append(finding)
    return by_object


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]


def test_the_recording_has_the_schedulers_own_shapes() -> None:
    snap = load_dump(DUMP)
    failed = [e for e in snap.events if e.get("reason") == "FailedScheduling"]
    assert failed and all(e.get("count") is None and e.get("series") is None for e in failed)
    assert all(str(e["message"]).startswith("0/5 nodes are available: ") for e in failed)
    assert any("had untolerated taint(s)" in str(e["message"]) for e in failed)


def test_more_gpus_than_the_selected_gpu_type_has_is_not_all_gpus_allocated() -> None:
    (finding,) = findings_for()["Pod/doctor2-sched/big-on-l4"]
    assert finding.id == "DOC002" and finding.evidence.startswith(
        "FailedScheduling ×2: 0/5 nodes are available"
    )
    assert (
        "asks for 8 nvidia.com/gpu but no node it may run on has more than 4 (1 such node(s))"
        in finding.cause
    )
    assert (
        "doctor2-h100 has 8 but is ruled out: does not match the pod's nvidia.com/gpu.product=NVIDIA-L4"
        in (finding.cause)
    )
    assert finding.spec_field == "gpu.type"


def test_the_big_node_behind_an_untolerated_taint() -> None:
    found = findings_for()["Pod/doctor2-sched/six-untolerated-h100"]
    assert sorted(ids(found)) == ["DOC002", "DOC003"]
    doc002 = found[ids(found).index("DOC002")]
    assert "doctor2-h100 has 8 but is ruled out: untolerated taint {dedicated: training}" in doc002.cause
    assert doc002.spec_field == "placement.tolerations"
    doc003 = found[ids(found).index("DOC003")]
    assert "{dedicated: training}" in doc003.cause  # read from the nodes: the message no longer names it


def test_device_plugin_down_is_reported_as_such_not_as_a_wrong_gpu_type() -> None:
    hints = DoctorHints(
        namespace="doctor2-sched",
        gpu_resource="nvidia.com/gpu",
        gpus_per_pod=1,
        gpu_products=("NVIDIA-A10G",),
    )
    found = findings_for(hints)
    (on_pod,) = found["Pod/doctor2-sched/one-on-a10g"]
    assert on_pod.id == "DOC008" and on_pod.severity == "error"
    assert (
        "doctor2-a10g (NVIDIA-A10G): device-plugin pod doctor2-gpu-operator/nvidia-device-plugin-daemonset-"
        in on_pod.evidence
    )
    assert "is not running (CrashLoopBackOff)" in on_pod.evidence
    (on_node,) = found["Node/doctor2-a10g"]
    assert on_node.id == "DOC101" and on_node.severity == "error"
    everything = [f.id for fs in found.values() for f in fs]
    assert "DOC113" not in everything and "DOC004" not in everything and "DOC007" not in everything


def test_a_full_node_of_the_right_type_is_all_gpus_allocated() -> None:
    (finding,) = findings_for()["Pod/doctor2-sched/two-on-full-l4"]
    assert finding.id == "DOC001" and "(2 needed, node sizes: 4)" in finding.cause


def test_two_services_with_one_name_prefix_never_report_each_other() -> None:
    """Recorded: `llama` and `llama-big` applied by kubellm; only llama-big's StatefulSet is rejected."""
    snap = load_dump(DATA / "dump-real-scope")
    llama = diagnose(snap, DoctorHints(namespace="doctor2-llm", service="llama"))
    big = diagnose(snap, DoctorHints(namespace="doctor2-llm", service="llama-big"))
    assert [(f.id, f.object) for f in llama if f.severity == "error"] == [
        ("DOC006", "Pod/doctor2-llm/llama-0")
    ]
    assert "FailedScheduling ×19" in llama[0].evidence  # series.count 18 plus a single event
    assert [(f.id, f.object) for f in big if f.severity == "error"] == [
        ("DOC108", "StatefulSet/doctor2-llm/llama-big")
    ]


def test_apply_wait_reads_the_recorded_rollout_as_blocked() -> None:
    snap = load_dump(DATA / "dump-real-wait")
    hints = DoctorHints(namespace="doctor2-wait", service="wait-big")
    findings = rollout_findings(snap, hints, diagnose(snap, hints))
    (doc002,) = [f for f in findings if f.id == "DOC002"]
    assert doc002.evidence.startswith("FailedScheduling ×100: 0/5 nodes are available: 1 Insufficient")
    progress = rollout_progress(snap, findings)
    assert progress.blocked_by == f"DOC002 {doc002.object}" and not progress.done
    assert "gpu-h100-1 has 8 but is ruled out" in (progress.blocked or "")
