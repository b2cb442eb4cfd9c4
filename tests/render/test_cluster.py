"""`render cluster`: GPU Operator values, sharing configs, MIG layouts, smoke tests, placeholders."""

from __future__ import annotations

import copy
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
