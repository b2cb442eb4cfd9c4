"""The calibration as its module docstring states it: a GPU's class by name (a MIG slice as its whole GPU),
else by compute capability, else the default; all-reduce cost by interconnect, growing with the TP size; and
the YAML read field by field (the refit script hands candidate data to the same reader)."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import pytest
import yaml

from kubellm.catalog.lookup import default_catalog
from kubellm.planning.calibration import (
    AllReduceCalibration,
    calibration_from_data,
    calibration_yaml,
    default_calibration,
)

NVLINK = AllReduceCalibration(
    latency_us_tp2=2.0, latency_us_per_doubling=1.5, bus_efficiency=0.5, link_gbs=400
)


def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(calibration_yaml())
    return copy.deepcopy(data)


def test_one_gpu_needs_no_all_reduce() -> None:
    assert NVLINK.cost_ms(1, 1e9, None) == 0.0
    assert NVLINK.cost_ms(0, 1e9, None) == 0.0


def test_two_gpus_pay_the_tp2_latency_and_the_ring_share_of_the_message() -> None:
    # ring all-reduce: 2 (tp − 1) / tp of the message crosses the link, at bus_efficiency × link bandwidth
    assert NVLINK.cost_ms(2, 0.0, None) == pytest.approx(2.0 / 1e3)
    moved = 2 * 1 / 2 * 1e8
    assert NVLINK.cost_ms(2, 1e8, None) == pytest.approx(2.0 / 1e3 + moved / (400e9 * 0.5) * 1e3)
    assert NVLINK.cost_ms(2, 1e8, None) == pytest.approx(0.502, rel=1e-12)  # 2 µs + 0.1 GB at 200 GB/s


def test_latency_grows_per_doubling_and_the_moved_share_with_tp() -> None:
    assert NVLINK.cost_ms(4, 0.0, None) == pytest.approx((2.0 + 1.5) / 1e3)
    assert NVLINK.cost_ms(8, 0.0, None) == pytest.approx((2.0 + 3.0) / 1e3)
    # 8 GPUs move 2 × 7/8 of the message; 1 GB over 200 GB/s effective is 8.75 ms
    assert NVLINK.cost_ms(8, 1e9, None) == pytest.approx(5.0 / 1e3 + 1.75e9 / 200e9 * 1e3)


def test_the_gpus_own_link_bandwidth_wins_over_the_interconnects_default() -> None:
    assert NVLINK.cost_ms(2, 1e9, 900) == pytest.approx(2.0 / 1e3 + 1e9 / (900e9 * 0.5) * 1e3)
    assert NVLINK.cost_ms(2, 1e9, 900) < NVLINK.cost_ms(2, 1e9, None)


def test_nvlink_gpus_use_the_nvlink_figures_and_the_others_pcie() -> None:
    calibration = default_calibration()
    a100, l4 = default_catalog().gpu("A100-80GB"), default_catalog().gpu("L4")
    assert a100.has_nvlink and not l4.has_nvlink
    assert calibration.allreduce(a100) is calibration.nvlink
    assert calibration.allreduce(l4) is calibration.pcie


def test_a_gpu_named_in_a_class_is_found_by_name_a_mig_slice_as_its_whole_gpu() -> None:
    data = _data()
    data["classes"]["ada"]["gpus"] = ["A100-80GB"]  # a name beats the compute capability (8.0: ampere-hbm)
    calibration = calibration_from_data(data)
    a100 = default_catalog().gpu("A100-80GB")
    assert calibration.for_gpu(a100).name == "ada"
    assert calibration.for_gpu(dataclasses.replace(a100, name="A100-80GB MIG 1g.10gb")).name == "ada"
    # without the name, the compute capability decides; an unknown one falls back to the default class
    assert default_calibration().for_gpu(a100).name == "ampere-hbm"
    unknown = dataclasses.replace(a100, name="X1", compute_capability="1.0")
    assert default_calibration().for_gpu(unknown).name == data["default_class"] == "hopper"


def test_every_field_is_read_from_its_key() -> None:
    data = _data()
    data["classes"]["ada"]["sources"] = ["https://example.com/ada"]
    data["classes"]["older"].pop("sources")
    calibration = calibration_from_data(data)
    ada = calibration.classes["ada"]
    assert ada.name == "ada" and ada.sources == ("https://example.com/ada",)
    assert ada.bandwidth_efficiency == data["classes"]["ada"]["bandwidth_efficiency"]
    assert calibration.classes["older"].sources == ()
    assert calibration.by_compute_capability["7.5"] == "older"  # every listed capability, as a string
    assert calibration.by_compute_capability["8.9"] == "ada" and calibration.by_gpu == {}
    assert calibration.default_class == "hopper"
    step = data["step"]
    assert calibration.moe_layer_factor == step["moe_layer_factor"] and isinstance(
        calibration.moe_layer_factor, float
    )
    assert calibration.layer_overhead_us == step["layer_overhead_us"]
    assert calibration.per_sequence_us == step["per_sequence_us"]
    nvlink, pcie = data["allreduce"]["nvlink"], data["allreduce"]["pcie"]
    assert calibration.nvlink.latency_us_tp2 == nvlink["latency_us_tp2"]
    assert calibration.pcie.latency_us_tp2 == pcie["latency_us_tp2"] != nvlink["latency_us_tp2"]
    assert calibration.request_overhead_ms == data["request_overhead_ms"]
    assert calibration.request_overhead_ms_per_extra_gpu == data["request_overhead_ms_per_extra_gpu"] == 0.0
    for name, row in data["classes"].items():
        read = calibration.classes[name]
        assert (read.bandwidth_efficiency, read.step_overhead_ms, read.compute_efficiency) == (
            row["bandwidth_efficiency"],
            row["step_overhead_ms"],
            row["compute_efficiency"],
        )
    for link, read_link in (("nvlink", calibration.nvlink), ("pcie", calibration.pcie)):
        row = data["allreduce"][link]
        assert read_link == AllReduceCalibration(
            latency_us_tp2=row["latency_us_tp2"],
            latency_us_per_doubling=row["latency_us_per_doubling"],
            bus_efficiency=row["bus_efficiency"],
            link_gbs=row["link_gbs"],
        )
        assert all(isinstance(value, float) for value in dataclasses.astuple(read_link))


def test_a_class_may_be_found_by_gpu_names_alone() -> None:
    data = _data()
    data["classes"]["ada"].pop("compute_capabilities")
    data["classes"]["ada"]["gpus"] = ["L4"]
    calibration = calibration_from_data(data)
    assert "8.9" not in calibration.by_compute_capability
    assert calibration.for_gpu(default_catalog().gpu("L4")).name == "ada"


def test_numeric_capabilities_in_the_yaml_are_matched_as_strings() -> None:
    data = _data()
    data["classes"]["blackwell"]["compute_capabilities"] = [12.0]  # unquoted in YAML: a float
    assert calibration_from_data(data).by_compute_capability["12.0"] == "blackwell"


def test_a_default_class_that_is_not_a_class_is_refused_by_name() -> None:
    data = _data()
    data["default_class"] = "volta"
    with pytest.raises(ValueError, match="default_class 'volta' is not a class"):
        calibration_from_data(data)


def test_the_shipped_file_is_read_as_utf8_text() -> None:
    text = calibration_yaml()
    assert text.startswith("# Performance-model calibration") and "µs" in text
    assert math.isfinite(default_calibration().nvlink.cost_ms(8, 1e6, None))
