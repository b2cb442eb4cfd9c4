"""Release-by-release rules read in vLLM's source: sampler path, batch defaults, graph profiling, graph estimate."""

from __future__ import annotations

import pytest

from kubellm.catalog import default_catalog
from kubellm.planning import memory as mem
from kubellm.planning import plan
from kubellm.planning.vllm_versions import accounting_for
from kubellm.spec import LLMService


@pytest.mark.parametrize(
    ("version", "sampler"),
    [
        ("0.10.2", "flashinfer"),
        ("0.11.0", "flashinfer"),
        ("0.11.1", "sort"),
        ("0.16.0", "sort"),
        ("0.17.0", "triton"),
    ],
)
def test_the_official_image_samples_through_flashinfer_then_a_sort_then_triton(
    version: str, sampler: str
) -> None:
    assert accounting_for(version).sampler == sampler


def test_a_log_without_flashinfer_sorts_and_the_triton_kernel_ignores_the_flag() -> None:
    assert accounting_for("0.10.2", flashinfer_sampler=False).sampler == "sort"
    assert accounting_for("0.14.1", flashinfer_sampler=True).sampler == "flashinfer"
    assert accounting_for("0.19.0", flashinfer_sampler=False).sampler == "triton"


def _activation(version: str, flashinfer: bool | None) -> float:
    spec = LLMService.model_validate({
        "metadata": {"name": "s"}, "model": {"source": "hf://Qwen/Qwen3-4B"}, "gpu": {"type": "h100", "count": 1},
        "serving": {"max_model_len": 8192},
    })  # fmt: skip
    return plan(spec, vllm_version=version, flashinfer_sampler=flashinfer).memory.activation_gib


def test_the_sort_path_needs_more_profiling_memory_than_flashinfer() -> None:
    # 1,024 rows × 151,936 logits: ~5.5 GiB sorted (a 0.10.2 pip install logged 5.59 GiB) against ~2.1 GiB.
    sorted_peak, flashinfer_peak = _activation("0.10.2", False), _activation("0.10.2", None)
    assert 5.0 < sorted_peak < 6.0
    assert flashinfer_peak < sorted_peak - 3


@pytest.mark.parametrize(
    ("version", "name", "memory", "large"),
    [
        ("0.8.4", "B200", 178.36, False),  # only names containing H100/H200 before 0.8.5
        ("0.8.4", "H200-141GB", 139.81, True),
        ("0.8.5", "A100-80GB", 79.25, True),  # 0.8.5: memory alone
        ("0.9.0", "A100-80GB", 79.25, False),  # 0.9.0 on: not an A100
        ("0.11.0", "B200", 178.36, True),
        ("0.11.0", "custom", 69.9, False),
    ],
)
def test_batch_defaults_follow_the_release_rule(version: str, name: str, memory: float, large: bool) -> None:
    defaults = mem.engine_defaults(memory, name, accounting_for(version).batch_defaults)
    assert (defaults.max_num_seqs, defaults.max_num_batched_tokens) == (
        (1024, 8192) if large else (256, 2048)
    )


def test_a_unified_memory_gpu_gets_the_small_defaults_because_nvml_reports_no_memory() -> None:
    gb10 = default_catalog().gpu("GB10")
    assert gb10.unified_memory and gb10.memory_gib > 70
    defaults = mem.engine_defaults(gb10.memory_gib, gb10.name, accounting_for("0.13.0").batch_defaults, True)
    assert (defaults.max_num_seqs, defaults.max_num_batched_tokens) == (256, 2048)


def test_non_torch_memory_grows_when_graphs_are_profiled_inside_the_window() -> None:
    gpu = default_catalog().gpu("h100")
    before, after = (mem.non_torch_bytes(1, 1, gpu, accounting_for(v)) for v in ("0.17.0", "0.18.0"))
    assert after - before == pytest.approx(mem.NON_TORCH_GRAPH_PROFILE)


def test_fewer_sequences_capture_fewer_and_smaller_graphs() -> None:
    assert mem.cudagraph_capture_sizes(1024, 8192)[-1] == 512
    assert mem.cudagraph_capture_sizes(64, 8192)[-1] == 128  # min(2 × max_num_seqs, 512)
    assert mem.cudagraph_capture_sizes(1024, 256)[-1] == 256  # never above max_num_batched_tokens
    model = default_catalog().model("Qwen3-30B-A3B")
    full, small = mem.cuda_graph_bytes(model, 1024, 8192), mem.cuda_graph_bytes(model, 64, 8192)
    assert small < full / 5
