"""Reading dumps: full ones diagnose like live clusters, partial or broken ones never crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.cluster.doctor import diagnose
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.snapshot import ClusterSnapshot, load_dump, parse_metrics

DATA = Path(__file__).parent / "data"


def test_full_dump_is_read_by_kind() -> None:
    snap = load_dump(DATA / "dump-a100-crashloop")
    assert len(snap.nodes) == 3 and len(snap.pods) == 5 and len(snap.events) == 2
    assert snap.api_versions is not None and "keda.sh/v1alpha1" in snap.api_versions
    assert [r["metadata"]["name"] for r in snap.runtime_classes or []] == ["nvidia"]
    assert list(snap.logs) == ["llm/llama-70b-6d9c4b7f8-k2l9p/vllm"]
    assert snap.metrics[0].name == "DCGM_FI_DEV_GPU_UTIL" and snap.metrics[0].labels["gpu"] == "0"
    assert snap.warnings == []


def test_full_dump_diagnosis() -> None:
    snap = load_dump(DATA / "dump-a100-crashloop")
    findings = diagnose(snap, DoctorHints(namespace="llm", service="llama-70b", autoscaler="keda"))
    by_id = {f.id: f for f in findings}
    assert by_id["SIG001"].object == "Pod/llm/llama-70b-6d9c4b7f8-k2l9p"
    assert "SIG028" not in by_id  # the generic "engine core failed" line is explained by the shm error
    assert by_id["DOC102"].object == "Node/gke-llm-a100-pool-5f2c-1"
    assert by_id["DOC001"].object == "Pod/llm/llama-70b-6d9c4b7f8-zz8qm"
    assert "DOC004" not in by_id  # the selector matches the GPU nodes; only the CPU node is skipped
    assert "DOC107" in by_id and "DOC109" not in by_id and "DOC106" not in by_id
    assert findings[0].severity == "error"


def test_partial_dump_reports_what_it_could_not_read() -> None:
    snap = load_dump(DATA / "dump-partial")
    assert any("nodes.json" in w and "not valid JSON" in w for w in snap.warnings)
    findings = diagnose(snap)
    # the one readable node advertises no GPU; the log with a non-UTF-8 prefix is still matched
    assert [f.id for f in findings] == ["DOC100", "SIG012"]
    assert findings[1].object == "log/llama-8b-0"


def test_missing_directory_is_a_warning_not_a_crash() -> None:
    snap = load_dump(DATA / "no-such-dump")
    assert snap.warnings and diagnose(snap) == []


def test_metrics_parser_skips_comments_and_junk() -> None:
    text = '# HELP x\nvllm:num_requests_waiting{model_name="m",le="+Inf"} 3\ngarbage line\nfoo NaNx\nbar 1e3 1732700000\n'
    samples = parse_metrics(text)
    assert [(s.name, s.value) for s in samples] == [("vllm:num_requests_waiting", 3.0), ("bar", 1000.0)]
    assert samples[0].labels == {"model_name": "m", "le": "+Inf"}


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "Pending",
            "OOMKilled",
            "8",
            "80Gi",
            "FailedScheduling",
            "In",
            "Exists",
            "Gt",
            "x",
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 Insufficient nvidia.com/gpu.",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "metadata",
        "spec",
        "status",
        "containers",
        "containerStatuses",
        "allocatable",
        "capacity",
        "involvedObject",
        "message",
        "reason",
        "name",
        "namespace",
        "labels",
        "state",
        "lastState",
        "waiting",
        "terminated",
        "nvidia.com/gpu",
        "resources",
        "limits",
        "phase",
        "conditions",
    ]
)
_obj = st.recursive(_json, lambda children: st.dictionaries(_keys, children, max_size=5), max_leaves=25)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Node", "Pod", "Event", "Deployment", "RuntimeClass"]), _obj), max_size=6
    )
)
def test_diagnose_never_crashes_on_malformed_objects(objects: list[tuple[str, Any]]) -> None:
    snap = ClusterSnapshot(runtime_classes=[])
    for kind, body in objects:
        snap.add_object({**body, "kind": kind} if isinstance(body, dict) else {"kind": kind, "spec": body})
    snap.logs["*/x/"] = "Bfloat16 is only supported on GPUs with compute capability of at least 8.0"
    findings = diagnose(
        snap, DoctorHints(autoscaler="keda", gpu_resource="nvidia.com/mig-1g.10gb", runtime_class="nvidia")
    )
    assert any(f.id == "SIG012" for f in findings)


@settings(max_examples=80, deadline=None)
@given(
    _obj,
    st.lists(
        st.dictionaries(st.sampled_from(["nvidia.com/gpu.product", "zone", "x"]), st.text(max_size=5)),
        max_size=3,
    ),
)
def test_pending_analysis_never_crashes_on_malformed_affinity(
    affinity: Any, node_labels: list[dict[str, str]]
) -> None:
    msg = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 Insufficient nvidia.com/gpu."
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "llm"},
        "spec": {
            "affinity": affinity,
            "nodeSelector": affinity if isinstance(affinity, dict) else None,
            "containers": [],
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "message": msg}],
        },
    }
    nodes = [
        {"kind": "Node", "metadata": {"name": f"n{i}", "labels": labels}}
        for i, labels in enumerate(node_labels)
    ]
    findings = diagnose(ClusterSnapshot(nodes=nodes, pods=[pod]))
    assert all(f.object == "Pod/llm/p" or f.object.startswith(("Node/", "cluster")) for f in findings)


def test_yaml_dump_of_a_gke_l4_pool() -> None:
    snap = load_dump(DATA / "dump-l4-yaml")
    assert (len(snap.nodes), len(snap.pods), len(snap.events)) == (2, 3, 4)
    by_id = {f.id: f for f in diagnose(snap, DoctorHints(namespace="llm", service="llama-8b"))}
    assert by_id["SIG017"].object == "Pod/llm/llama-8b-66b8f9c7d4-7vq2x"
    assert by_id["DOC020"].object == "Pod/llm/llama-8b-66b8f9c7d4-k8d2m"  # killed at 63 % of the download
    assert "startup probe budget 600 s" in by_id["DOC020"].evidence
    assert by_id["DOC003"].object == "Pod/llm/llama-8b-gateway-5f6d7c8b9a-q2w3e"
    assert "CPU node pool" in by_id["DOC003"].fix  # the gateway needs no GPU
