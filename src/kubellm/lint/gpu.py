"""Which GPU a workload gets: extended resources, GPU feature-discovery and cloud node labels, --gpu.

Also the size of a model's weights, from the catalog or, for models it does not list, from the
parameter count in the model's name ('Meta-Llama-3-70B-Instruct' → 70 B parameters).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubellm.catalog import Catalog, GpuSpec, ModelArch

GPU_RESOURCE_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-", "amd.com/gpu", "gpu.intel.com/")
SHARED_GPU_RESOURCES = ("nvidia.com/gpu.shared", "nvidia.com/gpumem", "nvidia.com/gpucores")
# Accelerators that are no GPU but run the same engines (vLLM on Trainium/Inferentia, TPU, Gaudi).
OTHER_ACCELERATOR_PREFIXES = ("aws.amazon.com/neuron", "google.com/tpu", "habana.ai/gaudi")
# Node labels whose value names the GPU model (GFD, GKE, EKS/Karpenter, AKS, OKE).
GPU_NODE_LABELS = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "k8s.amazonaws.com/accelerator",
    "accelerator",
    "kubernetes.azure.com/accelerator",
    "nvidia.com/gpu.family",
)
_MIG = re.compile(r"^nvidia\.com/mig-(\d+g\.\d+gb)$")
_PARAMS = re.compile(r"(?<![\dx.])(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z0-9])")
_MOE = re.compile(r"(\d+)x(\d+(?:\.\d+)?)[bB]")
_MILLIONS = re.compile(r"(?<![\dx.])(\d+(?:\.\d+)?)[mM](?![a-zA-Z0-9])")
PREQUANTIZED = {
    "fp8": 1.0,
    "int8": 1.0,
    "w8a8": 1.0,
    "awq": 0.53,
    "gptq": 0.53,
    "int4": 0.53,
    "w4a16": 0.53,
    "gguf": 0.6,
}


def is_gpu_resource(name: str) -> bool:
    return name.startswith(GPU_RESOURCE_PREFIXES) or name in SHARED_GPU_RESOURCES


def is_other_accelerator(name: str) -> bool:
    return name.startswith(OTHER_ACCELERATOR_PREFIXES)


@dataclass(frozen=True, slots=True)
class GpuChoice:
    """The GPU(s) a pod may land on, and where that was read."""

    gpus: tuple[GpuSpec, ...]
    source: str
    mig_memory_gib: float | None = None
    mig_profile: str | None = None

    @property
    def smallest(self) -> GpuSpec:
        return min(self.gpus, key=lambda g: g.memory_gib)


def node_label_values(pod_spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs a pod requires of its node: nodeSelector and required node affinity (In)."""
    pairs: list[tuple[str, str]] = []
    selector = pod_spec.get("nodeSelector")
    if isinstance(selector, dict):
        pairs.extend((str(k), str(v)) for k, v in selector.items())
    affinity = pod_spec.get("affinity")
    node_aff = affinity.get("nodeAffinity") if isinstance(affinity, dict) else None
    required = (
        node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") if isinstance(node_aff, dict) else None
    )
    terms = required.get("nodeSelectorTerms") if isinstance(required, dict) else None
    for term in terms if isinstance(terms, list) else []:
        exprs = term.get("matchExpressions") if isinstance(term, dict) else None
        for expr in exprs if isinstance(exprs, list) else []:
            if (
                isinstance(expr, dict)
                and expr.get("operator") == "In"
                and isinstance(expr.get("values"), list)
            ):
                pairs.extend((str(expr.get("key")), str(v)) for v in expr["values"])
    return pairs


def gpu_from_labels(catalog: Catalog, pairs: Iterable[tuple[str, str]]) -> GpuChoice | None:
    found: list[GpuSpec] = []
    sources: list[str] = []
    for key, value in pairs:
        if key not in GPU_NODE_LABELS:
            continue
        gpu = catalog.find_gpu(value) or catalog.find_gpu(strip_product(value))
        if gpu is not None and gpu not in found:
            found.append(gpu)
            sources.append(f"{key}={value}")
    return GpuChoice(tuple(found), ", ".join(sources)) if found else None


def strip_product(value: str) -> str:
    """'Tesla-V100-SXM2-16GB' → 'V100'; 'NVIDIA-L4' → 'L4' (GFD product strings carry form factors)."""
    parts = [p for p in re.split(r"[-_ ]", value) if p and p.lower() not in ("nvidia", "tesla", "geforce")]
    return parts[0] if parts else value


def gpu_from_mig(catalog: Catalog, resources: Iterable[str], base: GpuChoice | None) -> GpuChoice | None:
    """A MIG slice requested as `nvidia.com/mig-3g.40gb`: its memory, on the labelled GPU if known."""
    for name in resources:
        match = _MIG.match(name)
        if not match:
            continue
        profile = match.group(1)
        candidates = base.gpus if base else tuple(g for g in catalog.gpus if g.mig_profile(profile))
        for gpu in candidates:
            mig = gpu.mig_profile(profile)
            if mig is not None:
                return GpuChoice((gpu,), f"resource {name}", mig.memory_gib, profile)
    return None


def estimate_params(model_id: str) -> float | None:
    """Parameters from a model name: '8x7B' → 56e9, '70B' → 70e9, '125m' → 125e6; None if absent."""
    name = model_id.rsplit("/", 1)[-1]
    moe = _MOE.search(name)
    if moe:
        return float(moe.group(1)) * float(moe.group(2)) * 1e9
    match = _PARAMS.search(name)
    if match:
        return float(match.group(1)) * 1e9
    match = _MILLIONS.search(name)
    if match:
        return float(match.group(1)) * 1e6
    return None


def find_model(catalog: Catalog, model_id: str | None) -> ModelArch | None:
    """The catalog model for an id as written in a manifest (hf:// and org prefixes, -FP8 suffixes)."""
    if not model_id:
        return None
    candidate = re.sub(r"^(hf://|huggingface://)", "", model_id.strip())
    tries = [candidate, candidate.rsplit("/", 1)[-1]]
    base = re.sub(r"(?i)[-_](fp8|awq|gptq|int4|int8|w8a8|w4a16|dynamic)$", "", candidate)
    tries += [base, base.rsplit("/", 1)[-1]]
    dated = re.sub(r"-\d{4}$", "", base)  # a dated re-release of the same architecture ('DeepSeek-R1-0528')
    if dated != base:
        tries += [dated, dated.rsplit("/", 1)[-1]]
    for name in tries:
        found = catalog.find_model(name)
        if found is not None:
            return found
    return _model_in_path(catalog, candidate) if candidate.startswith("/") else None


def _model_in_path(catalog: Catalog, path: str) -> ModelArch | None:
    """A model named by a local path: an 'org/name' pair of segments the catalog knows (kubellm's own
    '/models/hf/<org>/<name>/<revision>', a Hub-cache-like layout), else one segment that names it."""
    parts = [p for p in path.split("/") if p and p not in (".", "..")]
    for first, second in itertools.pairwise(parts):
        found = catalog.find_model(f"{first}/{second}")
        if found is not None and found.hf_id.lower() == f"{first}/{second}".lower():
            return found
    for part in reversed(parts):
        found = catalog.find_model(part)
        if found is not None:
            return found
    return None


def prequantized_bytes_per_param(model_id: str) -> float | None:
    lowered = model_id.lower()
    for marker, size in PREQUANTIZED.items():
        if re.search(rf"[-_.]{marker}(?![a-z])", lowered):
            return size
    return None


def weights_gib(catalog: Catalog, model_id: str | None, quantization: str | None = None) -> float | None:
    """Size of the checkpoint the engine loads, in GiB (catalog first, else the name's parameter count);
    ``quantization`` is the engine's `--quantization` when it quantizes 16-bit weights on load."""
    if not model_id:
        return None
    bytes_per_param = (
        prequantized_bytes_per_param(model_id) or PREQUANTIZED.get((quantization or "").lower()) or 2.0
    )
    arch = find_model(catalog, model_id)
    if arch is not None:
        quant = (
            next((q for q, size in PREQUANTIZED.items() if size == bytes_per_param), None)
            if bytes_per_param < 2
            else None
        )
        quant = {"w8a8": "int8", "w4a16": "int4"}.get(quant or "", quant)
        size = arch.weights_bytes_for("bfloat16", None if arch.quantization else quant)
        if size > 0:
            return size / 2**30
    params_from_name = estimate_params(model_id)
    return None if params_from_name is None else params_from_name * bytes_per_param / 2**30
