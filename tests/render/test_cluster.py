"""`render cluster`: GPU Operator values, sharing configs, MIG layouts, smoke tests, placeholders."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from render_helpers import EXAMPLES, GOLDEN, find

from kubellm.errors import SpecError, UsageError
from kubellm.render.cluster import render_cluster
from kubellm.render.output import to_yaml
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects
from kubellm.spec import read_yaml, validate_as
from kubellm.spec.cluster import GpuCluster, load_cluster_spec

SPEC = EXAMPLES / "cluster.yaml"


def _cluster(**changes: Any) -> GpuCluster:
    data = copy.deepcopy(read_yaml(SPEC))
    data.update(changes)
    return validate_as(GpuCluster, data, "cluster.yaml")


def test_cluster_example_matches_golden_and_validates() -> None:
    import os

    objects = render_cluster(load_cluster_spec(SPEC))
    golden = GOLDEN / "cluster.yaml"
    if os.environ.get("KUBELLM_UPDATE_GOLDEN") == "1":
        golden.write_text(to_yaml(objects))
    assert to_yaml(objects) == golden.read_text()
    for version in (OLDEST_VERSION, newest_version()):
        assert validate_objects(objects, version) == []


def test_time_slicing_and_mig_configs_per_pool() -> None:
    objects = render_cluster(load_cluster_spec(SPEC))
    plugin = find(objects, "ConfigMap", "kubellm-device-plugin-config")["data"]
    shared = yaml.safe_load(plugin["l4-shared"])
    assert shared["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 2}]
    assert yaml.safe_load(plugin["a100-mig"])["flags"]["migStrategy"] == "mixed"
    mig = yaml.safe_load(find(objects, "ConfigMap", "kubellm-mig-config")["data"]["config.yaml"])
    assert mig["mig-configs"]["kubellm-a100-mig"][0]["mig-devices"] == {"3g.40gb": 2}
    values = yaml.safe_load(find(objects, "ConfigMap", "gpu-operator-values")["data"]["values.yaml"])
    assert values["devicePlugin"]["config"] == {"name": "kubellm-device-plugin-config", "default": "h100"}
    assert values["migManager"]["enabled"] is True


def test_smoke_test_runs_once_per_node_and_placeholder_keeps_a_warm_node() -> None:
    objects = render_cluster(load_cluster_spec(SPEC))
    job = find(objects, "Job", "gpu-smoke-h100")
    assert job["spec"]["completions"] == 2 and job["spec"]["parallelism"] == 2
    pod = job["spec"]["template"]["spec"]
    assert "nvidia-smi" in pod["containers"][0]["args"][0] and "vectorAdd" in pod["containers"][0]["args"][0]
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0][
        "topologyKey"
    ] == ("kubernetes.io/hostname")
    assert all(o["metadata"]["name"] != "gpu-smoke-t4-spot" for o in objects)  # no nodes yet
    mig_job = find(objects, "Job", "gpu-smoke-a100-mig")
    assert (
        "nvidia.com/mig-3g.40gb"
        in mig_job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    )
    warm = find(objects, "Deployment", "warm-h100")
    assert warm["spec"]["template"]["spec"]["priorityClassName"] == "kubellm-warm-placeholder"
    assert find(objects, "PriorityClass")["value"] < 0


def test_mig_layout_beyond_seven_compute_slices_is_refused() -> None:
    data = read_yaml(SPEC)
    data["pools"][1]["mig_layout"] = {"3g.40gb": 2, "2g.20gb": 1}
    with pytest.raises(UsageError) as info:
        render_cluster(validate_as(GpuCluster, data, "cluster.yaml"))
    assert "pools[1].mig_layout" in info.value.what and "8 of the 7" in info.value.what


def test_mig_profile_unknown_to_the_gpu_lists_the_known_ones() -> None:
    data = read_yaml(SPEC)
    data["pools"][1]["mig_layout"] = {"3g.20gb": 1}
    with pytest.raises(UsageError) as info:
        render_cluster(validate_as(GpuCluster, data, "cluster.yaml"))
    assert "3g.40gb" in info.value.fix


def test_single_strategy_allows_one_profile_per_node() -> None:
    data = read_yaml(SPEC)
    data["operator"]["mig_strategy"] = "single"
    data["pools"][1]["mig_layout"] = {"3g.40gb": 1, "1g.10gb": 2}
    with pytest.raises(SpecError) as info:
        validate_as(GpuCluster, data, "cluster.yaml")
    assert "single" in info.value.what and "mixed" in info.value.what


def test_label_command_selects_nodes_by_what_they_carry_before_labelling() -> None:
    guides = {
        name: yaml.safe_load(text)
        for name, text in find(render_cluster(load_cluster_spec(SPEC)), "ConfigMap", "kubellm-node-pools")[
            "data"
        ].items()
    }
    l4 = guides["l4-shared.yaml"]["label_existing_nodes"]
    # never `-l kubellm.dev/gpu-pool=…`: no node carries the pool label before this command sets it
    assert "-l kubellm.dev/gpu-pool" not in l4
    assert l4.startswith(
        "kubectl label nodes -l 'nvidia.com/gpu.product in (NVIDIA-L4)' kubellm.dev/gpu-pool=l4-shared"
    )
    assert (
        "kubectl taint nodes -l 'nvidia.com/gpu.product in (NVIDIA-L4)' nvidia.com/gpu=present:NoSchedule"
        in l4
    )


def test_pool_node_selector_is_used_as_given() -> None:
    data = copy.deepcopy(read_yaml(SPEC))
    data["pools"][0]["node_selector"] = {"cloud.google.com/gke-nodepool": "gpu-h100"}
    objects = render_cluster(validate_as(GpuCluster, data, "cluster.yaml"))
    guide = yaml.safe_load(find(objects, "ConfigMap", "kubellm-node-pools")["data"]["h100.yaml"])
    assert guide["label_existing_nodes"].startswith(
        "kubectl label nodes -l cloud.google.com/gke-nodepool=gpu-h100 kubellm.dev/gpu-pool=h100"
    )


def test_two_pools_of_one_gpu_need_node_selectors() -> None:
    data = copy.deepcopy(read_yaml(SPEC))
    data["pools"].append({"name": "l4-exclusive", "gpu_type": "L4", "gpus_per_node": 1})
    with pytest.raises(UsageError) as info:
        render_cluster(validate_as(GpuCluster, data, "cluster.yaml"))
    assert "pools[4] (l4-exclusive) and pool l4-shared" in info.value.what
    assert "pools[4].node_selector" in info.value.fix
    data["pools"][4]["node_selector"] = {"eks.amazonaws.com/nodegroup": "l4-exclusive"}
    render_cluster(validate_as(GpuCluster, data, "cluster.yaml"))


def test_runtime_class_comes_before_the_jobs_that_use_it_and_kustomize_keeps_the_order(
    tmp_path: Path,
) -> None:
    from kubellm.render.output import write_dir

    objects = render_cluster(load_cluster_spec(SPEC))
    kinds = [o["kind"] for o in objects]
    assert kinds.index("RuntimeClass") < kinds.index("Job") and kinds.index("PriorityClass") < kinds.index(
        "Deployment"
    )
    write_dir(objects, tmp_path / "out")
    kustomization = yaml.safe_load((tmp_path / "out" / "kustomization.yaml").read_text())
    # kustomize's default (legacy) order would move the RuntimeClass behind the Jobs
    assert kustomization["sortOptions"] == {"order": "fifo"}
