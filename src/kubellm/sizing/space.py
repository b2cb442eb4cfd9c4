"""The search space: GPU type × GPUs per replica (TP, or a MIG slice for small models) × weight
quantization × KV-cache dtype, each turned into the spec a user would write for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.planning.layout import valid_tps
from kubellm.spec import LLMService

TP_SIZES = (1, 2, 4, 8)
MIG_WEIGHT_SHARE = 0.5  # a MIG slice is tried when the weights take at most half of the whole GPU


@dataclass(frozen=True, slots=True)
class Shape:
    """One replica's hardware and numerics."""

    gpu: GpuSpec
    tp: int
    mig_profile: str | None
    quantization: str  # "none" or a weight quantization the planner knows
    kv_cache_dtype: str  # "auto" or "fp8"

    @property
    def gpus_per_replica(self) -> int:
        return self.tp

    @property
    def label(self) -> str:
        where = (
            f"{self.gpu.name} MIG {self.mig_profile}" if self.mig_profile else f"{self.gpu.name} TP{self.tp}"
        )
        numerics = [] if self.quantization == "none" else [self.quantization]
        if self.kv_cache_dtype != "auto":
            numerics.append(f"KV {self.kv_cache_dtype}")
        return where + (f" ({', '.join(numerics)})" if numerics else "")


def shapes(
    model: ModelArch,
    gpus: Sequence[GpuSpec],
    quantizations: Sequence[str],
    kv_dtypes: Sequence[str],
    max_tp: int = 8,
    mig: bool = True,
) -> Iterator[Shape]:
    """Every shape worth planning: fp8 weights and KV only where the GPU computes in fp8 (elsewhere they
    save memory but not time, which the planner already says), a checkpoint that is quantized already
    only as it is, MIG slices only for models that leave most of the GPU free."""
    tps = [tp for tp in valid_tps(model, max_tp) if tp in TP_SIZES]
    for gpu in gpus:
        quants = (
            ["none"] if model.quantization else [q for q in quantizations if q != "fp8" or gpu.supports_fp8]
        )
        kvs = [k for k in kv_dtypes if k == "auto" or gpu.supports_fp8]
        for quant in quants:
            for kv in kvs:
                for tp in tps:
                    yield Shape(gpu, tp, None, quant, kv)
                weights = model.weights_bytes_for(model.dtype, None if quant == "none" else quant)
                if mig and weights <= MIG_WEIGHT_SHARE * gpu.memory_gib * 2**30:
                    for profile in gpu.mig_profiles:
                        if profile.compute_slices >= 7:
                            continue  # the whole GPU: the exclusive shape already covers it
                        yield Shape(gpu, 1, profile.name, quant, kv)


def shape_spec(base: LLMService, shape: Shape, max_model_len: int) -> LLMService:
    """``base`` with the shape's hardware and numerics, engine limits back to their defaults."""
    data = base.model_dump(mode="python")
    gpu = data["gpu"]
    gpu.update(type=shape.gpu.name, count=shape.tp, nodes=1)
    if shape.mig_profile:
        gpu.update(sharing="mig", mig_profile=shape.mig_profile, count=1)
    else:
        gpu.update(sharing="exclusive", mig_profile=None)
    data["model"]["quantization"] = shape.quantization
    serving = data["serving"]
    serving.update(kv_cache_dtype=shape.kv_cache_dtype, max_model_len=max_model_len)
    serving.update(max_num_seqs=None, max_num_batched_tokens=None)
    return LLMService.model_validate(data)


def with_limits(spec: LLMService, max_num_seqs: int | None, max_num_batched_tokens: int | None) -> LLMService:
    serving = spec.serving.model_copy(
        update={"max_num_seqs": max_num_seqs, "max_num_batched_tokens": max_num_batched_tokens}
    )
    return spec.model_copy(update={"serving": serving})
