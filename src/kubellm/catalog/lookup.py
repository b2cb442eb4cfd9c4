"""The catalog: models and GPUs loaded from the data files, looked up by any name people use."""

from __future__ import annotations

import difflib
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kubellm.catalog.gpu import GpuSpec, MigProfile
from kubellm.catalog.hf_config import arch_from_config, load_config_file
from kubellm.catalog.model import ModelArch
from kubellm.errors import CatalogError

_MODEL_FACTS = (
    "hf_id",
    "family",
    "license",
    "commercial_use",
    "license_note",
    "tasks",
    "engines",
    "source_url",
    "notes",
    "quantization",
    "params",
)


def normalize(name: str) -> str:
    """Case-, separator- and vendor-prefix-insensitive key: 'NVIDIA_H100' → 'h100'."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    key = re.sub(r"^(hf://)", "", key)
    key = re.sub(r"^(nvidia-|tesla-)", "", key)
    return key


def _load_yaml(filename: str) -> Any:
    text = resources.files("kubellm.catalog").joinpath("data", filename).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _model_from_row(row: dict[str, Any]) -> ModelArch:
    facts = {k: row[k] for k in _MODEL_FACTS if k in row}
    for key in ("tasks", "engines"):
        if key in facts:
            facts[key] = tuple(facts[key])
    facts["aliases"] = tuple(row.get("aliases", ()))
    if "weights_gib" in row:
        facts["weights_bytes"] = round(float(row["weights_gib"]) * 2**30)
    return arch_from_config(row["config"], name=row["name"], source=f"catalog:{row['name']}", **facts)


def _gpu_from_row(row: dict[str, Any]) -> GpuSpec:
    # imported here: the providers module is needed only once GPUs are loaded, and `import kubellm.catalog`
    # is on the path of every command (lint on manifests without GPUs never loads them)
    from kubellm.catalog.providers import provider_cloud_labels

    provider_labels = provider_cloud_labels().get(row["name"], ())
    return GpuSpec(
        name=row["name"],
        memory_gib=float(row["memory_gib"]),
        memory_gb_nominal=float(row["memory_gb_nominal"]),
        bandwidth_tbs=float(row["bandwidth_tbs"]),
        bf16_tflops=row.get("bf16_tflops"),
        fp16_tflops=float(row["fp16_tflops"]),
        fp8_tflops=row.get("fp8_tflops"),
        int8_tops=row.get("int8_tops"),
        compute_capability=str(row["compute_capability"]),
        architecture=row["architecture"],
        nvlink_gbs=row.get("nvlink_gbs"),
        pcie=row.get("pcie", ""),
        mig_profiles=tuple(
            MigProfile(p["name"], float(p["memory_gib"]), int(p["max_count"]))
            for p in row.get("mig_profiles", [])
        ),
        usd_per_hour=row.get("usd_per_hour"),
        price_basis=row.get("price_basis", ""),
        product_labels=tuple(row.get("product_labels", ())),
        cloud_labels=tuple(sorted({*(row.get("cloud_labels") or {}).items(), *provider_labels})),
        aliases=tuple(row.get("aliases", ())),
        unified_memory=bool(row.get("unified_memory", False)),
        driver_reserved_gib=float(row.get("driver_reserved_gib") or 0.0),
        uma_profile_overhead_gib=float(row.get("uma_profile_overhead_gib") or 0.0),
        source=row.get("price_source", ""),
        notes=row.get("notes", ""),
    )


class Catalog:
    """Models and GPUs with name lookup; build one with :func:`default_catalog`."""

    def __init__(self, models: list[ModelArch], gpus: list[GpuSpec]) -> None:
        self.models = models
        self.gpus = gpus
        self._model_index: dict[str, ModelArch] = {}
        for model in models:
            aliases = (*model.aliases, *(alias.split("/")[-1] for alias in model.aliases))
            for key in (model.name, model.hf_id, model.hf_id.split("/")[-1], *aliases):
                self._model_index.setdefault(normalize(key), model)
        self._gpu_index: dict[str, GpuSpec] = {}
        for gpu in gpus:
            for key in (gpu.name, *gpu.aliases, *gpu.product_labels, *(v for _, v in gpu.cloud_labels)):
                self._gpu_index.setdefault(normalize(key), gpu)

    def model(self, name: str) -> ModelArch:
        """A model by catalog name, Hugging Face id or alias (case-insensitive)."""
        found = self._model_index.get(normalize(name))
        if found is None:
            raise CatalogError(
                f"unknown model {name!r}" + _did_you_mean(name, self._model_index),
                "run `kubellm models` for the catalog, or pass the model's config.json with --model-config",
            )
        return found

    def find_model(self, name: str) -> ModelArch | None:
        return self._model_index.get(normalize(name))

    def gpu(self, name: str) -> GpuSpec:
        """A GPU by catalog name, short name ('h100'), GFD product label or cloud accelerator label."""
        key = normalize(name)
        found = self._gpu_index.get(key)
        if found is None and "-mig-" in key:  # 'NVIDIA-A100-SXM4-80GB-MIG-3g.40gb' (GFD, single strategy)
            found = self._gpu_index.get(key.split("-mig-")[0])
        if found is None:
            raise CatalogError(
                f"unknown GPU {name!r}" + _did_you_mean(name, self._gpu_index),
                "run `kubellm gpus` for the catalog, or give --gpu-memory-gib for an unlisted GPU",
            )
        return found

    def find_gpu(self, name: str) -> GpuSpec | None:
        try:
            return self.gpu(name)
        except CatalogError:
            return None


def _did_you_mean(name: str, index: dict[str, Any]) -> str:
    close = difflib.get_close_matches(normalize(name), list(index), n=3, cutoff=0.5)
    names: list[str] = []
    for key in close:
        entry = index[key]
        if entry.name not in names:
            names.append(entry.name)
    return f" (did you mean {', '.join(names)}?)" if names else ""


@cache
def default_catalog() -> Catalog:
    """The catalog shipped with kubellm (loaded once per process)."""
    models = [_model_from_row(row) for row in _load_yaml("models.yaml")["models"]]
    gpus = [_gpu_from_row(row) for row in _load_yaml("gpus.yaml")["gpus"]]
    return Catalog(models, gpus)


def resolve_model(
    name: str | None, config_path: str | Path | None, catalog: Catalog | None = None
) -> ModelArch:
    """A model from a config.json path when given, else from the catalog by name."""
    if config_path:
        return load_config_file(config_path)
    if not name:
        raise CatalogError(
            "no model given", "pass --model NAME (see `kubellm models`) or --model-config PATH"
        )
    return (catalog or default_catalog()).model(name)
