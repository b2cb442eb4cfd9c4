"""GpuSpec: one GPU type's memory, speed, sharing options, price and the node labels it shows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MigProfile:
    """A MIG profile such as 3g.40gb: compute slices, memory, and how many fit on one GPU."""

    name: str
    memory_gib: float
    max_count: int

    @property
    def resource_name(self) -> str:
        """The extended resource the device plugin advertises under the 'mixed' strategy."""
        return f"nvidia.com/mig-{self.name}"

    @property
    def compute_slices(self) -> int:
        return int(self.name.split("g.", 1)[0])


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """A GPU type as the planner, renderer, linter and doctor see it.

    ``memory_gib`` is the total memory torch reports (what vLLM multiplies by
    ``gpu_memory_utilization``), not the marketing figure. Tensor rates are dense (no sparsity).
    """

    name: str
    memory_gib: float
    memory_gb_nominal: float
    bandwidth_tbs: float
    bf16_tflops: float | None
    fp16_tflops: float
    fp8_tflops: float | None
    int8_tops: float | None
    compute_capability: str
    architecture: str
    nvlink_gbs: float | None = None
    pcie: str = ""
    mig_profiles: tuple[MigProfile, ...] = ()
    usd_per_hour: float | None = None
    price_basis: str = ""
    product_labels: tuple[str, ...] = ()
    cloud_labels: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()
    source: str = ""
    notes: str = ""
    # Unified memory (GB10, GH200): CPU and GPU share one pool; what the firmware and OS keep back from it,
    # and the host memory vLLM's profiling counts as non-torch there (see plan/memory.unified_memory_bytes).
    unified_memory: bool = False
    driver_reserved_gib: float = 0.0
    uma_profile_overhead_gib: float = 0.0

    @property
    def cc(self) -> tuple[int, int]:
        """Compute capability as a comparable tuple, e.g. (8, 9)."""
        major, _, minor = self.compute_capability.partition(".")
        return int(major), int(minor or 0)

    @property
    def supports_bf16(self) -> bool:
        return self.cc >= (8, 0)

    @property
    def supports_fp8(self) -> bool:
        return self.cc >= (8, 9)

    @property
    def has_nvlink(self) -> bool:
        return bool(self.nvlink_gbs)

    def cloud_label_values(self) -> dict[str, list[str]]:
        """Provider node labels that name this GPU: label → its values (GKE has two for the H100)."""
        out: dict[str, list[str]] = {}
        for key, value in self.cloud_labels:
            out.setdefault(key, []).append(value)
        return {key: sorted(values) for key, values in sorted(out.items())}

    def mig_profile(self, name: str) -> MigProfile | None:
        for profile in self.mig_profiles:
            if profile.name == name.lower():
                return profile
        return None

    def peak_tflops(self, dtype: str) -> float:
        """Dense tensor-core peak for a compute dtype, falling back to fp16 where bf16/fp8 are absent."""
        if dtype in ("fp8", "float8") and self.fp8_tflops:
            return self.fp8_tflops
        if dtype == "bfloat16" and self.bf16_tflops:
            return self.bf16_tflops
        return self.bf16_tflops or self.fp16_tflops
