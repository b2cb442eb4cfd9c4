"""Which nodes a pod may use (taints, selector, affinity, cordon) and what that changes in the Pending findings."""

from __future__ import annotations

from typing import Any

import pytest

from kubellm.cluster.doctor import diagnose
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.placement import eligible_nodes, exclusion, tolerates
from kubellm.cluster.snapshot import ClusterSnapshot

from .builders import GPU_TAINT, container, node, pod, system_pod, unschedulable

DEDICATED = {"key": "dedicated", "value": "training", "effect": "NoSchedule"}
TOLERATE_GPU = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def pending_pod(message: str, gpus: int, tolerations: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    p = pod(
        "llama-8b-7c9f8d6b5-x2x9k",
        phase="Pending",
        containers=[container(gpus=gpus)],
        conditions=unschedulable(message),
    )
    p["spec"]["tolerations"] = p["spec"]["tolerations"] + tolerations
    p["spec"].update(spec)
    return p


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"operator": "Exists"}, DEDICATED, True),  # empty key + Exists tolerates everything
        ({"key": "dedicated", "operator": "Exists"}, DEDICATED, True),
        ({"key": "dedicated", "value": "training"}, DEDICATED, True),  # operator defaults to Equal
        ({"key": "dedicated", "operator": "Equal", "value": "inference"}, DEDICATED, False),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, DEDICATED, False),
        ({"key": "dedicated", "operator": "Exists", "effect": ""}, DEDICATED, True),
        ({"key": "other", "operator": "Exists"}, DEDICATED, False),
        ({"operator": "Equal"}, DEDICATED, False),  # empty key needs Exists
    ],
)
def test_toleration_semantics(toleration: dict[str, Any], taint: dict[str, Any], expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_filters_in_the_schedulers_order_with_the_reason_for_each_node() -> None:
    p = pending_pod("", 1, [TOLERATE_GPU], nodeSelector={"nvidia.com/gpu.product": "NVIDIA-L4"})
    l4 = node("l4", gpus=4, product="NVIDIA-L4", taints=[GPU_TAINT])
    h100 = node("h100", gpus=8, product="NVIDIA-H100-80GB-HBM3", taints=[GPU_TAINT, DEDICATED])
    a100 = node("a100", gpus=8)
    cordoned = node("l4-cordoned", gpus=4, product="NVIDIA-L4")
    cordoned["spec"]["unschedulable"] = True
    assert [n["metadata"]["name"] for n in eligible_nodes(p, [l4, h100, a100, cordoned])] == ["l4"]
    assert (
        exclusion(p, h100)  # every failing filter: tolerating the taint alone would not let the pod on
        == "untolerated taint {dedicated: training} and does not match the pod's nvidia.com/gpu.product=NVIDIA-L4 "
        "(nodes have: NVIDIA-H100-80GB-HBM3)"
    )
    assert exclusion(p, a100) == (
        "does not match the pod's nvidia.com/gpu.product=NVIDIA-L4 (nodes have: NVIDIA-A100-SXM4-80GB)"
    )
    assert exclusion(p, cordoned) == "cordoned (spec.unschedulable)"
    prefer = dict(DEDICATED, effect="PreferNoSchedule")  # only scores, never filters
    assert exclusion(p, node("soft", gpus=4, product="NVIDIA-L4", taints=[prefer])) is None


def test_required_affinity_terms_are_ored_and_match_fields_pin_a_node() -> None:
    terms = [
        {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a100-2"]}]},
    ]
    affinity = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
    }
    p = pending_pod("", 1, [], affinity=affinity)
    nodes = [node("a100-1"), node("a100-2"), node("l4", product="NVIDIA-L4")]
    assert [n["metadata"]["name"] for n in eligible_nodes(p, nodes)] == ["a100-2", "l4"]


def test_more_gpus_than_any_node_the_selector_allows_is_not_all_gpus_allocated() -> None:
    """The big node exists but the pod's GPU-product selector rules it out: DOC002, naming it, never DOC001."""
    msg = (
        "0/3 nodes are available: 2 Insufficient nvidia.com/gpu, 1 node(s) didn't match Pod's node "
        "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    p = pending_pod(msg, 8, [TOLERATE_GPU], nodeSelector={"nvidia.com/gpu.product": "NVIDIA-L4"})
    nodes = [node(f"l4-{i}", gpus=4, product="NVIDIA-L4", taints=[GPU_TAINT]) for i in range(2)] + [
        node("h100", gpus=8, product="NVIDIA-H100-80GB-HBM3")
    ]
    (finding,) = [f for f in diagnose(ClusterSnapshot(nodes=nodes, pods=[p])) if f.object.startswith("Pod/")]
    assert finding.id == "DOC002" and finding.spec_field == "gpu.type"
    assert "no node it may run on has more than 4 (2 such node(s))" in finding.cause
    assert (
        "h100 has 8 but is ruled out: does not match the pod's nvidia.com/gpu.product=NVIDIA-L4"
        in finding.cause
    )


def test_the_only_big_node_is_tainted_names_the_taint_and_the_toleration() -> None:
    msg = (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient nvidia.com/gpu. preemption: "
        "0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    p = pending_pod(msg, 6, [TOLERATE_GPU])
    nodes = [node(f"l4-{i}", gpus=4, product="NVIDIA-L4", taints=[GPU_TAINT]) for i in range(2)]
    nodes.append(node("h100", gpus=8, product="NVIDIA-H100-80GB-HBM3", taints=[GPU_TAINT, DEDICATED]))
    findings = {f.id: f for f in diagnose(ClusterSnapshot(nodes=nodes, pods=[p]))}
    assert "h100 has 8 but is ruled out: untolerated taint {dedicated: training}" in findings["DOC002"].cause
    assert findings["DOC002"].spec_field == "placement.tolerations"
    # v1.33+ no longer names the taint in the message: it is read from the nodes the pod would otherwise match
    assert "{dedicated: training}" in findings["DOC003"].cause and "'dedicated'" in findings["DOC003"].fix
    assert "DOC001" not in findings


def test_untolerated_taint_on_a_node_the_selector_rules_out_anyway_is_not_worth_tolerating() -> None:
    msg = "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint(s)."
    p = pending_pod(msg, 1, [TOLERATE_GPU], nodeSelector={"nvidia.com/gpu.product": "NVIDIA-L4"})
    nodes = [
        node("l4", gpus=1, product="NVIDIA-L4", taints=[GPU_TAINT]),
        node("h100", gpus=8, product="NVIDIA-H100-80GB-HBM3", taints=[DEDICATED]),
    ]
    ids = {f.id for f in diagnose(ClusterSnapshot(nodes=nodes, pods=[p]))}
    assert "DOC003" not in ids and "DOC001" in ids


def test_nodes_with_gpus_all_ruled_out_by_placement() -> None:
    msg = "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint(s)."
    p = pending_pod(msg, 1, [])
    nodes = [node("cpu", gpus=0, product=None), node("a100", gpus=8, taints=[GPU_TAINT])]
    findings = {f.id: f for f in diagnose(ClusterSnapshot(nodes=nodes, pods=[p]))}
    assert (
        "a100 has 8 but is ruled out: untolerated taint {nvidia.com/gpu: present}" in findings["DOC009"].cause
    )
    assert findings["DOC009"].spec_field == "placement.tolerations" and "DOC007" not in findings


def test_device_plugin_down_on_the_only_node_of_the_spec_gpu_type_is_not_a_wrong_gpu_type() -> None:
    msg = (
        "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node "
        "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    p = pending_pod(msg, 1, [TOLERATE_GPU], nodeSelector={"nvidia.com/gpu.product": "NVIDIA-L4"})
    dead = node("l4", gpus=0, product="NVIDIA-L4", taints=[GPU_TAINT])  # GFD labels, no nvidia.com/gpu
    crashing = system_pod("nvidia-device-plugin-daemonset-x7k2p", phase="Running", node_name="l4")
    crashing["status"]["containerStatuses"] = [
        {
            "name": "nvidia-device-plugin-ctr",
            "ready": False,
            "restartCount": 6,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        }
    ]
    nodes = [dead, node("a100-1"), node("a100-2")]
    snap = ClusterSnapshot(nodes=nodes, pods=[p, crashing])
    hints = DoctorHints(gpu_resource="nvidia.com/gpu", gpus_per_pod=1, gpu_products=("NVIDIA-L4",))
    findings = {(f.id, f.object.split("/")[0]): f for f in diagnose(snap, hints)}
    on_pod = findings[("DOC008", "Pod")]
    assert on_pod.severity == "error" and on_pod.category == "runtime"
    assert (
        "l4 (NVIDIA-L4): device-plugin pod gpu-operator/nvidia-device-plugin-daemonset-x7k2p is not running (CrashLoopBackOff)"
        in on_pod.evidence
    )
    assert (
        findings[("DOC101", "Node")].severity == "error"
    )  # the spec's GPU type is left with no working node
    ids = {i for i, _ in findings}
    assert not ids & {"DOC001", "DOC004", "DOC007", "DOC113"}
    # the same dead node is only a warning when the spec wants a GPU type other nodes have
    a100 = DoctorHints(gpu_resource="nvidia.com/gpu", gpus_per_pod=1, gpu_products=("NVIDIA-A100-SXM4-80GB",))
    assert {f.severity for f in diagnose(ClusterSnapshot(nodes=nodes), a100) if f.id == "DOC101"} == {
        "warning"
    }
