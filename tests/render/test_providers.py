"""Per provider: the GPU type is selected only through labels that provider's GPU nodes carry, its GPU-pool
taints are tolerated, a cache claim that would not bind fails at render with the fix, and a gated model
without a token fails at render."""

from __future__ import annotations

from typing import Any

import pytest
from render_helpers import find, plan_of, pod_specs, render_spec, spec_of, workload

from kubellm.catalog.providers import GFD_PRODUCT_LABEL, GKE_ACCELERATOR_LABEL, INSTANCE_TYPE_LABEL, provider
from kubellm.errors import UsageError
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects

# What each provider's GPU nodes carry (their documentation, cited in providers.yaml).
CARRIED = {
    "gke": {GKE_ACCELERATOR_LABEL, INSTANCE_TYPE_LABEL, "cloud.google.com/gke-gpu-sharing-strategy",
            "cloud.google.com/gke-gpu-partition-size"},
    "eks": {INSTANCE_TYPE_LABEL},
    "aks": {INSTANCE_TYPE_LABEL},
    "openshift": {GFD_PRODUCT_LABEL},
}  # fmt: skip
SPOT_KEYS = {k for p in ("gke", "eks", "aks") for k, _ in provider(p).spot_labels}


def _terms(pod: dict[str, Any]) -> list[list[dict[str, Any]]]:
    required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return [t["matchExpressions"] for t in required["nodeSelectorTerms"]]


def _pod(**sections: Any) -> dict[str, Any]:
    return pod_specs(workload(render_spec(spec_of(**sections))))[0]


def _storage_for(name: str) -> dict[str, str]:
    return {"storage_class": "gp2"} if name == "eks" else {}


@pytest.mark.parametrize(
    ("name", "gpu", "model"),
    [
        ("gke", "L4", "hf://meta-llama/Llama-3.1-8B-Instruct"),
        ("gke", "H100-SXM-80GB", "hf://meta-llama/Llama-3.1-8B-Instruct"),
        ("eks", "L4", "hf://meta-llama/Llama-3.1-8B-Instruct"),
        ("eks", "A10G", "hf://meta-llama/Llama-3.1-8B-Instruct"),
        ("aks", "A100-80GB", "hf://meta-llama/Llama-3.1-8B-Instruct"),
        ("aks", "T4", "hf://Qwen/Qwen2.5-1.5B-Instruct"),
        ("openshift", "L4", "hf://meta-llama/Llama-3.1-8B-Instruct"),
    ],
)
def test_gpu_type_selection_uses_only_labels_the_providers_gpu_nodes_carry(
    name: str, gpu: str, model: str
) -> None:
    pod = _pod(
        model={"source": model}, gpu={"type": gpu, "count": 1}, placement={"provider": name},
        storage=_storage_for(name), serving={"max_model_len": 2048},
    )  # fmt: skip
    terms = _terms(pod)
    assert terms
    for term in terms:
        keys = {e["key"] for e in term} - SPOT_KEYS
        assert keys <= CARRIED[name], f"{name} nodes do not carry {keys - CARRIED[name]}"
        gpu_expr = next(e for e in term if e["key"] not in SPOT_KEYS)
        assert gpu_expr["operator"] == "In" and gpu_expr["values"]
    assert "nodeSelector" not in pod


def test_gke_selects_the_accelerator_label_and_both_h100_node_flavours() -> None:
    pod = _pod(gpu={"type": "H100-SXM-80GB", "count": 1}, placement={"provider": "gke"})
    (term,) = _terms(pod)
    assert term[0] == {"key": GKE_ACCELERATOR_LABEL, "operator": "In",
                       "values": ["nvidia-h100-80gb", "nvidia-h100-mega-80gb"]}  # fmt: skip
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_eks_selects_the_instance_types_with_the_gpu_and_enough_of_them() -> None:
    spec = spec_of(
        model={"source": "hf://meta-llama/Llama-3.3-70B-Instruct", "quantization": "fp8"},
        gpu={"type": "L40S", "count": 4},
        placement={"provider": "eks"},
        storage={"storage_class": "gp2"},
    )
    (term,) = _terms(pod_specs(workload(render_spec(spec)))[0])
    assert term[0]["key"] == INSTANCE_TYPE_LABEL
    assert term[0]["values"] == ["g6e.12xlarge", "g6e.24xlarge", "g6e.48xlarge"]  # 4 or more L40S each
    assert plan_of(spec).instance is not None and plan_of(spec).instance.name == "g6e.12xlarge"


def test_a_pinned_instance_type_is_the_only_value() -> None:
    pod = _pod(placement={"provider": "eks", "instance_type": "g6.4xlarge"}, storage={"storage_class": "gp2"})
    assert _terms(pod)[0][0] == {"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": ["g6.4xlarge"]}


def test_aks_tolerates_its_recommended_gpu_pool_taint() -> None:
    pod = _pod(gpu={"type": "A100-80GB", "count": 1}, placement={"provider": "aks"})
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod["tolerations"]
    assert _terms(pod)[0][0]["values"] == ["Standard_NC24ads_A100_v4", "Standard_NC48ads_A100_v4",
                                           "Standard_NC96ads_A100_v4", "Standard_ND96amsr_A100_v4"]  # fmt: skip


def test_a_gpu_the_provider_does_not_offer_is_refused_with_the_alternatives() -> None:
    with pytest.raises(UsageError) as err:
        render_spec(spec_of(placement={"provider": "aks"}))  # no L4 VM size on Azure
    assert "L4" in err.value.what and "A100-80GB" in err.value.fix and "gpu_affinity: none" in err.value.fix


def test_gpu_affinity_none_and_preferred() -> None:
    none = _pod(
        placement={"provider": "aks", "gpu_affinity": "none"}
    )  # no L4 shape on AKS: none skips the label
    gpu_keys = {GFD_PRODUCT_LABEL, GKE_ACCELERATOR_LABEL, INSTANCE_TYPE_LABEL}
    assert all(e["key"] not in gpu_keys for t in _terms(none) for e in t)
    preferred = _pod(placement={"provider": "gke", "gpu_affinity": "preferred", "spot": "prefer"})
    node_affinity = preferred["affinity"]["nodeAffinity"]
    weights = [p["weight"] for p in node_affinity["preferredDuringSchedulingIgnoredDuringExecution"]]
    assert weights[0] == 100 and "requiredDuringSchedulingIgnoredDuringExecution" not in node_affinity


def test_gke_gpu_sharing_uses_gkes_own_node_labels_and_resource() -> None:
    shared = _pod(
        model={"source": "hf://Qwen/Qwen2.5-1.5B-Instruct"},
        gpu={"type": "L4", "sharing": "time-slicing", "memory_utilization": 0.45},
        placement={"provider": "gke"},
    )
    assert {
        "key": "cloud.google.com/gke-gpu-sharing-strategy",
        "operator": "In",
        "values": ["time-sharing"],
    } in _terms(shared)[0]
    spec = spec_of(
        model={"source": "hf://Qwen/Qwen2.5-7B-Instruct"},
        gpu={"type": "A100-80GB", "sharing": "mig", "mig_profile": "3g.40gb"},
        placement={"provider": "gke"},
    )
    mig = pod_specs(workload(render_spec(spec)))[0]
    assert {
        "key": "cloud.google.com/gke-gpu-partition-size",
        "operator": "In",
        "values": ["3g.40gb"],
    } in _terms(mig)[0]
    limits = mig["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1" and not any(k.startswith("nvidia.com/mig-") for k in limits)


def test_generic_clusters_accept_any_label_that_names_the_gpu() -> None:
    terms = _terms(_pod())
    assert [t[0]["key"] for t in terms] == [GFD_PRODUCT_LABEL, GKE_ACCELERATOR_LABEL, INSTANCE_TYPE_LABEL]
    assert "g6.xlarge" in terms[2][0]["values"] and "nvidia-l4" in terms[1][0]["values"]


@pytest.mark.parametrize("name", ["gke", "eks", "aks", "openshift"])
def test_provider_renders_validate_for_the_oldest_and_newest_kubernetes(name: str) -> None:
    objects = render_spec(spec_of(gpu={"type": "A100-80GB", "count": 1}, placement={"provider": name},
                                  storage=_storage_for(name)))  # fmt: skip
    for version in (OLDEST_VERSION, newest_version()):
        assert validate_objects(objects, version) == []


# ---- storage that binds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "storage", "fix"),
    [
        ("gke", {"access_mode": "ReadWriteMany"}, "standard-rwx"),
        ("gke", {"access_mode": "ReadWriteMany", "storage_class": "standard-rwo"}, "standard-rwx"),
        ("eks", {"access_mode": "ReadWriteMany", "storage_class": "gp2"}, "efs-sc"),
        ("aks", {"access_mode": "ReadWriteMany", "storage_class": "managed-csi"}, "azurefile-csi"),
        ("generic", {"access_mode": "ReadWriteMany"}, "ReadWriteOnce"),
        ("eks", {}, "gp2"),
        ("gke", {"access_mode": "ReadOnlyMany", "storage_class": "hyperdisk-ml"}, "pvc://"),
    ],
)
def test_a_cache_claim_that_would_not_bind_fails_at_render_with_the_fix(
    name: str, storage: dict[str, str], fix: str
) -> None:
    gpu = {"type": "A100-80GB", "count": 1}
    with pytest.raises(UsageError) as err:
        render_spec(spec_of(gpu=gpu, placement={"provider": name}, storage=storage))
    assert "storage." in err.value.what and fix in err.value.fix


@pytest.mark.parametrize(
    ("name", "storage_class"),
    [
        ("gke", "standard-rwx"),
        ("eks", "efs-sc"),
        ("aks", "azurefile-csi-premium"),
        ("openshift", "ocs-storagecluster-cephfs"),
    ],
)
def test_a_shared_cache_on_a_class_that_offers_it_renders_one_claim_and_a_prefetch_job(
    name: str, storage_class: str
) -> None:
    objects = render_spec(spec_of(gpu={"type": "A100-80GB", "count": 1}, placement={"provider": name},
                                  storage={"access_mode": "ReadWriteMany", "storage_class": storage_class}))  # fmt: skip
    claim = find(objects, "PersistentVolumeClaim", "svc-models")
    assert (
        claim["spec"]["accessModes"] == ["ReadWriteMany"]
        and claim["spec"]["storageClassName"] == storage_class
    )
    assert find(objects, "Job", "svc-prefetch") and workload(objects)["kind"] == "Deployment"


def test_the_default_cache_binds_on_each_providers_default_block_class() -> None:
    for name in ("gke", "aks", "openshift", "generic"):
        objects = render_spec(spec_of(gpu={"type": "A100-80GB", "count": 1}, placement={"provider": name}))
        (claim,) = workload(objects)["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


# ---- gated models ----------------------------------------------------------------------------------------------


def test_a_gated_model_without_a_token_fails_at_render_with_the_fix() -> None:
    with pytest.raises(UsageError) as err:
        render_spec(spec_of(security={"hf_token_secret": None}))
    assert "gated" in err.value.what and "security.hf_token_secret" in err.value.fix
    assert "create secret generic hf-token" in err.value.fix
    open_model = spec_of(
        model={"source": "hf://Qwen/Qwen2.5-7B-Instruct"}, security={"hf_token_secret": None}
    )
    assert render_spec(open_model)
