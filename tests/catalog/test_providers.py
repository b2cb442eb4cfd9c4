"""Provider facts are data with sources: every shape names a catalog GPU, every fact has a URL."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from kubellm.catalog import default_catalog
from kubellm.catalog.access import gated_repo
from kubellm.catalog.providers import (
    GFD_PRODUCT_LABEL,
    GKE_ACCELERATOR_LABEL,
    INSTANCE_TYPE_LABEL,
    PROVIDER_NAMES,
    all_providers,
    provider,
)
from kubellm.errors import CatalogError

CLOUDS = ("gke", "eks", "aks")


def _urls(node: object) -> list[str]:
    if isinstance(node, dict):
        return [
            u
            for k, v in node.items()
            for u in ([v] if (k == "source" or k.endswith("_source")) and isinstance(v, str) else _urls(v))
        ]
    if isinstance(node, list):
        return [u for v in node for u in _urls(v)]
    return []


def test_every_provider_is_loaded_and_unknown_names_say_which_exist() -> None:
    assert set(all_providers()) == set(PROVIDER_NAMES)
    with pytest.raises(CatalogError) as err:
        provider("digitalocean")
    assert "gke" in err.value.fix and "placement.provider" in err.value.fix


def test_every_source_in_the_data_is_a_public_https_url() -> None:
    text = resources.files("kubellm.catalog").joinpath("data", "providers.yaml").read_text(encoding="utf-8")
    urls = [u for u in _urls(yaml.safe_load(text)) if u]
    assert len(urls) > 40
    assert all(u.startswith("https://") and " " not in u for u in urls), [
        u for u in urls if not u.startswith("https://")
    ]


@pytest.mark.parametrize("name", CLOUDS)
def test_every_instance_names_a_catalog_gpu_a_shape_source_and_a_price_source(name: str) -> None:
    catalog = default_catalog()
    p = provider(name)
    names = [i.name for i in p.instances]
    assert len(names) == len(set(names)), "an instance is listed twice"
    assert p.instances, name
    for shape in p.instances:
        assert catalog.find_gpu(shape.gpu) is not None and catalog.gpu(shape.gpu).name == shape.gpu, shape
        assert shape.gpus >= 1 and shape.vcpu >= 4 and shape.memory_gib >= 15, shape
        assert shape.source.startswith("https://") and shape.price_source.startswith("https://"), shape
        assert shape.usd_per_hour is None or 0.1 < shape.usd_per_hour < 200, shape


def test_gpu_selection_of_each_provider_is_a_label_its_gpu_nodes_carry() -> None:
    assert (
        provider("gke").gpu_selection == ("accelerator",)
        and provider("gke").gpu_label == GKE_ACCELERATOR_LABEL
    )
    assert all(i.accelerator for i in provider("gke").instances)
    for name in ("eks", "aks"):
        assert (
            provider(name).gpu_selection == ("instance",) and provider(name).gpu_label == INSTANCE_TYPE_LABEL
        )
    assert provider("openshift").gpu_label == GFD_PRODUCT_LABEL
    assert set(provider("generic").gpu_selection) == {"gfd", "accelerator", "instance"}
    assert all(i.max_pods for i in provider("eks").instances), "EKS reservations need each shape's max pods"


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_storage_facts_are_consistent(name: str) -> None:
    storage = provider(name).storage
    if storage.default_class is not None:
        assert storage.default_class.block and storage.default_class.access_modes == ("ReadWriteOnce",)
    for shared in storage.shared_classes:
        assert shared.offers("ReadWriteMany") or shared.offers("ReadOnlyMany"), shared
        assert not storage.is_block(shared.name)
        assert shared.source.startswith("https://")
    if name != "generic":
        assert storage.shared_classes, f"{name}: name at least one class a shared cache binds on"


def test_eks_has_no_default_class_and_knows_its_block_classes() -> None:
    storage = provider("eks").storage
    assert storage.default_class is None and "1.30" in storage.default_class_note
    assert storage.is_block("gp2") and not storage.is_block("efs-sc")


def test_generic_spot_labels_are_every_clouds() -> None:
    generic = set(provider("generic").spot_labels)
    for name in CLOUDS:
        assert set(provider(name).spot_labels) <= generic


def test_gpus_yaml_leaves_provider_labels_to_providers_yaml() -> None:
    text = resources.files("kubellm.catalog").joinpath("data", "gpus.yaml").read_text(encoding="utf-8")
    assert all("cloud_labels" not in row for row in yaml.safe_load(text)["gpus"]), "one home: providers.yaml"
    l4 = default_catalog().gpu("l4")
    assert (GKE_ACCELERATOR_LABEL, "nvidia-l4") in l4.cloud_labels
    assert default_catalog().gpu("nvidia-h100-mega-80gb").name == "H100-SXM-80GB"


@pytest.mark.parametrize(
    ("repo", "gated"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", True),
        ("META-LLAMA/llama-3.3-70b-instruct", True),
        ("hf://meta-llama/Llama-3.1-405B-Instruct-FP8", True),
        ("google/gemma-2-9b", True),
        ("google/flan-t5-xl", False),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", True),
        ("tiiuae/falcon-180B", True),
        ("tiiuae/falcon-40b-instruct", False),
        ("bigcode/starcoder", True),
        ("bigcode/starcoder2-15b", False),
        ("Qwen/Qwen2.5-7B-Instruct", False),
        ("openai/gpt-oss-20b", False),
        ("microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf", False),
    ],
)
def test_the_catalog_knows_which_repositories_are_gated(repo: str, gated: bool) -> None:
    gate = gated_repo(repo)
    assert (gate is not None) == gated
    if gate is not None:
        assert gate.evidence and all(u.startswith("https://") for u in gate.evidence)
