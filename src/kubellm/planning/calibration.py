"""Per-GPU-class calibration of the performance model, kept as data (``data/calibration.yaml``).

A GPU belongs to a class (Hopper, Ampere datacenter, Ada, …) by its name or, failing that, its compute
capability; every class carries the figures a serving engine achieves on that hardware — the fraction
of datasheet bandwidth decode reaches, the fixed cost of one engine step, the fraction of dense peak
prefill reaches — each with the sources it was fitted on. What does not depend on the GPU is one
figure for all: the kernels of one layer, an MoE layer's extra kernels, the cost per running sequence,
and the fixed cost a request pays before its first token (API server, tokenizer: CPU-side). All-reduce
costs are by interconnect (NVLink or PCIe) and grow with the tensor-parallel size.
``benchmarks/sizing_calibrate.py`` refits the numbers from the published rows of the fit part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kubellm.catalog import GpuSpec


@dataclass(frozen=True, slots=True)
class GpuClassCalibration:
    """What a serving engine achieves on one class of GPU (see the module docstring)."""

    name: str
    bandwidth_efficiency: float  # achieved / datasheet memory bandwidth in decode
    step_overhead_ms: float  # fixed cost of one engine step (scheduling, sampling)
    compute_efficiency: float  # achieved / dense peak in prefill
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AllReduceCalibration:
    """Cost of one all-reduce of a step's activations over an interconnect."""

    latency_us_tp2: float  # a small all-reduce between two GPUs
    latency_us_per_doubling: float  # added for every doubling of the tensor-parallel size beyond 2
    bus_efficiency: float  # achieved / nominal link bandwidth for large messages
    link_gbs: float  # nominal per-GPU link bandwidth used when the GPU entry has none

    def cost_ms(self, tp: int, message_bytes: float, link_gbs: float | None) -> float:
        """One all-reduce of ``message_bytes`` per GPU across ``tp`` GPUs (ring: 2(tp−1)/tp of it moves)."""
        if tp <= 1:
            return 0.0
        latency_us = self.latency_us_tp2 + self.latency_us_per_doubling * (math.log2(tp) - 1)
        bandwidth = (link_gbs or self.link_gbs) * 1e9 * self.bus_efficiency
        moved = 2 * (tp - 1) / tp * message_bytes
        return latency_us / 1e3 + moved / bandwidth * 1e3


@dataclass(frozen=True, slots=True)
class Calibration:
    """Every class and interconnect of ``data/calibration.yaml``."""

    classes: dict[str, GpuClassCalibration]
    by_gpu: dict[str, str]
    by_compute_capability: dict[str, str]
    default_class: str
    nvlink: AllReduceCalibration
    pcie: AllReduceCalibration
    layer_overhead_us: float  # per layer and step: the kernels of one layer cost at least this
    moe_layer_factor: float  # an MoE layer launches this many times the kernels of a dense one
    per_sequence_us: float  # per running sequence and step (sampling, bookkeeping)
    request_overhead_ms: float  # before a request's first token: API server, tokenizer, scheduling (CPU-side)
    request_overhead_ms_per_extra_gpu: float  # … growing with the GPUs of a replica that must agree on a step
    # … of which this much is done by the one API-server process, a request at a time (parse, tokenize):
    # requests sent together reach the scheduler this far apart
    frontend_serial_ms: float = 0.0

    def for_gpu(self, gpu: GpuSpec) -> GpuClassCalibration:
        """The class of ``gpu``: by name (a MIG slice as its whole GPU), else by compute capability."""
        base = gpu.name.split(" ", 1)[0]
        name = self.by_gpu.get(base) or self.by_compute_capability.get(gpu.compute_capability)
        return self.classes[name or self.default_class]

    def allreduce(self, gpu: GpuSpec) -> AllReduceCalibration:
        return self.nvlink if gpu.has_nvlink else self.pcie


def _class(name: str, row: dict[str, Any]) -> GpuClassCalibration:
    return GpuClassCalibration(
        name=name,
        bandwidth_efficiency=float(row["bandwidth_efficiency"]),
        step_overhead_ms=float(row["step_overhead_ms"]),
        compute_efficiency=float(row["compute_efficiency"]),
        sources=tuple(row.get("sources", ())),
    )


def _allreduce(row: dict[str, Any]) -> AllReduceCalibration:
    return AllReduceCalibration(
        latency_us_tp2=float(row["latency_us_tp2"]),
        latency_us_per_doubling=float(row["latency_us_per_doubling"]),
        bus_efficiency=float(row["bus_efficiency"]),
        link_gbs=float(row["link_gbs"]),
    )


def calibration_from_data(data: dict[str, Any]) -> Calibration:
    """A Calibration from the parsed YAML (also used by the refit script on candidate values)."""
    classes = {name: _class(name, row) for name, row in data["classes"].items()}
    by_gpu: dict[str, str] = {}
    by_cc: dict[str, str] = {}
    for name, row in data["classes"].items():
        for gpu_name in row.get("gpus", ()):
            by_gpu[gpu_name] = name
        for cc in row.get("compute_capabilities", ()):
            by_cc[str(cc)] = name
    default = data["default_class"]
    if default not in classes:
        raise ValueError(f"calibration default_class {default!r} is not a class")
    return Calibration(
        classes=classes,
        by_gpu=by_gpu,
        by_compute_capability=by_cc,
        default_class=default,
        nvlink=_allreduce(data["allreduce"]["nvlink"]),
        pcie=_allreduce(data["allreduce"]["pcie"]),
        layer_overhead_us=float(data["step"]["layer_overhead_us"]),
        moe_layer_factor=float(data["step"]["moe_layer_factor"]),
        per_sequence_us=float(data["step"]["per_sequence_us"]),
        request_overhead_ms=float(data["request_overhead_ms"]),
        request_overhead_ms_per_extra_gpu=float(data["request_overhead_ms_per_extra_gpu"]),
        frontend_serial_ms=float(data.get("frontend_serial_ms", 0.0)),
    )


def calibration_yaml() -> str:
    """The text of the shipped calibration file."""
    return (
        resources.files("kubellm.planning").joinpath("data", "calibration.yaml").read_text(encoding="utf-8")
    )


@cache
def default_calibration() -> Calibration:
    """The shipped calibration (read once)."""
    return calibration_from_data(yaml.safe_load(calibration_yaml()))
