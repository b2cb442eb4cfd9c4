"""The names people use resolve to catalog rows: short GPU names, node labels, Hugging Face ids."""

from __future__ import annotations

import pytest

from kubellm.catalog import Catalog, default_catalog
from kubellm.errors import CatalogError


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


@pytest.mark.parametrize(
    ("name", "gpu"),
    [
        ("h100", "H100-SXM-80GB"),
        ("H100", "H100-SXM-80GB"),
        ("h200", "H200-141GB"),
        ("a100-80gb", "A100-80GB"),
        ("a100-40gb", "A100-40GB"),
        ("l4", "L4"),
        ("l40s", "L40S"),
        ("a10g", "A10G"),
        ("t4", "T4"),
        ("b200", "B200"),
        ("v100", "V100"),
        ("rtx-4090", "RTX-4090"),
    ],
)
def test_short_gpu_names(catalog: Catalog, name: str, gpu: str) -> None:
    assert catalog.gpu(name).name == gpu


@pytest.mark.parametrize(
    ("label", "gpu"),
    [
        ("NVIDIA-H100-80GB-HBM3", "H100-SXM-80GB"),
        ("NVIDIA-A100-SXM4-80GB", "A100-80GB"),
        ("NVIDIA-A100-SXM4-40GB", "A100-40GB"),
        ("NVIDIA-A100-80GB-PCIe", "A100-80GB"),
        ("NVIDIA-L4", "L4"),
        ("NVIDIA-L40S", "L40S"),
        ("NVIDIA-A10G", "A10G"),
        ("Tesla-T4", "T4"),
        ("NVIDIA-H200", "H200-141GB"),
        ("NVIDIA-H100-NVL", "H100-NVL-94GB"),
        ("NVIDIA-A100-SXM4-80GB-MIG-3g.40gb", "A100-80GB"),  # GFD label under the 'single' MIG strategy
    ],
)
def test_gpu_feature_discovery_product_labels(catalog: Catalog, label: str, gpu: str) -> None:
    assert catalog.gpu(label).name == gpu


@pytest.mark.parametrize(
    ("key", "value", "gpu"),
    [
        ("cloud.google.com/gke-accelerator", "nvidia-tesla-t4", "T4"),
        ("cloud.google.com/gke-accelerator", "nvidia-l4", "L4"),
        ("cloud.google.com/gke-accelerator", "nvidia-a100-80gb", "A100-80GB"),
        ("cloud.google.com/gke-accelerator", "nvidia-h100-80gb", "H100-SXM-80GB"),
        ("cloud.google.com/gke-accelerator", "nvidia-h200-141gb", "H200-141GB"),
        ("karpenter.k8s.aws/instance-gpu-name", "a10g", "A10G"),
        ("karpenter.k8s.aws/instance-gpu-name", "l40s", "L40S"),
        ("karpenter.k8s.aws/instance-gpu-name", "h100", "H100-SXM-80GB"),
    ],
)
def test_cloud_accelerator_labels(catalog: Catalog, key: str, value: str, gpu: str) -> None:
    found = catalog.gpu(value)
    assert found.name == gpu
    assert (key, value) in found.cloud_labels


def test_gke_mega_h100_label_is_the_h100(catalog: Catalog) -> None:
    assert catalog.gpu("nvidia-h100-mega-80gb").name == "H100-SXM-80GB"


def test_no_gpu_name_or_label_points_at_two_gpus(catalog: Catalog) -> None:
    for g in catalog.gpus:
        for name in (g.name, *g.aliases, *g.product_labels, *(v for _, v in g.cloud_labels)):
            assert catalog.gpu(name) is g, f"{name!r} resolves to {catalog.gpu(name).name}, not {g.name}"


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B"),
        ("META-LLAMA/LLAMA-3.1-8B-INSTRUCT", "Llama-3.1-8B"),
        ("Llama-3.1-8B-Instruct", "Llama-3.1-8B"),
        ("hf://meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B"),
        ("meta-llama/Llama-3.2-1B-Instruct", "Llama-3.2-1B"),
        ("meta-llama/Llama-3.3-70B-Instruct", "Llama-3.3-70B-Instruct"),
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen2.5-7B-Instruct"),
        ("qwen2.5-7b", "Qwen2.5-7B-Instruct"),
        ("google/gemma-3-4b-it", "Gemma-3-4B"),
        ("google/gemma-2-9b-it", "Gemma-2-9B"),
        ("microsoft/Phi-4-mini-instruct", "Phi-4-mini"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "Mistral-7B-v0.3"),
        ("tiiuae/falcon-7b-instruct", "Falcon-7B"),
        ("EleutherAI/gpt-j-6b", "GPT-J-6B"),
        ("databricks/dolly-v2-12b", "Dolly-v2-12B"),
        ("lmsys/vicuna-13b-v1.5", "Vicuna-13B-v1.5"),
        ("bigscience/bloom", "BLOOM-176B"),
        ("THUDM/chatglm3-6b", "ChatGLM3-6B"),
        ("bigcode/starcoder", "StarCoder"),
        ("google/flan-t5-xxl", "Flan-T5-XXL"),
        ("deepseek-ai/DeepSeek-R1", "DeepSeek-R1"),
        ("openai/gpt-oss-120b", "gpt-oss-120b"),
        ("mixtral-8x7b", "Mixtral-8x7B"),
    ],
)
def test_model_names_and_hugging_face_ids(catalog: Catalog, name: str, model: str) -> None:
    assert catalog.model(name).name == model


def test_unknown_model_suggests_close_names(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match="did you mean") as err:
        catalog.model("llama-3.1-8")
    assert err.value.fix  # tells the user what to do next


def test_unknown_gpu_suggests_close_names(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match=r"did you mean.*H100") as err:
        catalog.gpu("h10")
    assert "gpu-memory-gib" in err.value.fix
