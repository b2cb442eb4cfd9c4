"""Engine choice: vLLM with a GPU, llama.cpp for GGUF, the simulator otherwise — always with a reason."""

from __future__ import annotations

import pytest

from kubellm.errors import UsageError
from kubellm.local.engines import LocalEngine, choose_engine, is_gguf
from kubellm.local.environment import Environment
from kubellm.spec import LLMService

BARE = Environment(gpu_note="nvidia-smi is not on PATH")
GPU_VLLM = Environment(vllm_installed=True, gpus=("NVIDIA L4",), gpu_note="nvidia-smi lists 1 GPU(s)")
VLLM_NO_GPU = Environment(vllm_installed=True, gpu_note="nvidia-smi is not on PATH")
LLAMA = Environment(llama_cpp_installed=True)
LLAMA_NO_SERVER = Environment(llama_cpp_installed=True, llama_cpp_server_missing=("uvicorn",))


def service(source: str = "hf://Qwen/Qwen3-0.6B", **engine: object) -> LLMService:
    return LLMService.model_validate(
        {"metadata": {"name": "t"}, "model": {"source": source}, "engine": engine}
    )


def test_bare_machine_gets_the_simulator_and_is_told_vllm_is_missing() -> None:
    choice = choose_engine(service(), BARE)
    assert choice.engine == LocalEngine.SIM
    assert "vLLM is not installed" in choice.reason


def test_vllm_without_gpu_falls_back_to_the_simulator_naming_the_gpu_probe() -> None:
    choice = choose_engine(service(), VLLM_NO_GPU)
    assert choice.engine == LocalEngine.SIM
    assert "no NVIDIA GPU" in choice.reason and "nvidia-smi is not on PATH" in choice.reason


def test_vllm_and_a_gpu_give_vllm() -> None:
    choice = choose_engine(service(), GPU_VLLM)
    assert choice.engine == LocalEngine.VLLM
    assert "1 GPU" in choice.reason


def test_gguf_file_with_llama_cpp_gives_llamacpp_even_with_vllm_present() -> None:
    env = Environment(vllm_installed=True, llama_cpp_installed=True, gpus=("NVIDIA L4",))
    assert choose_engine(service("models/tiny.gguf"), env).engine == LocalEngine.LLAMACPP


def test_gguf_without_llama_cpp_falls_back_to_the_simulator_with_the_install_line() -> None:
    choice = choose_engine(service("models/tiny.gguf"), BARE)
    assert choice.engine == LocalEngine.SIM
    assert "pip install 'llama-cpp-python[server]'" in choice.reason


def test_llama_cpp_without_its_server_extra_names_the_missing_module() -> None:
    choice = choose_engine(service("models/tiny.gguf"), LLAMA_NO_SERVER)
    assert choice.engine == LocalEngine.SIM
    assert "uvicorn" in choice.reason


def test_engines_without_a_local_runner_are_simulated() -> None:
    choice = choose_engine(service(name="sglang"), GPU_VLLM)
    assert choice.engine == LocalEngine.SIM
    assert "'sglang'" in choice.reason


def test_asking_for_vllm_where_it_cannot_run_is_an_error_not_a_fallback() -> None:
    with pytest.raises(UsageError, match="vLLM is not installed"):
        choose_engine(service(), BARE, "vllm")


def test_asking_for_llamacpp_with_a_non_gguf_model_is_an_error() -> None:
    with pytest.raises(UsageError, match="needs a GGUF model"):
        choose_engine(service(), LLAMA, "llamacpp")


def test_asking_for_the_simulator_always_works() -> None:
    assert choose_engine(service(), GPU_VLLM, "sim").engine == LocalEngine.SIM


def test_unknown_engine_names_the_choices() -> None:
    with pytest.raises(UsageError, match="auto, vllm, llamacpp, sim"):
        choose_engine(service(), BARE, "ollama")


@pytest.mark.parametrize(
    ("source", "engine", "expected"),
    [("a/b.GGUF", "vllm", True), ("hf://org/name", "llamacpp", True), ("hf://org/name", "vllm", False)],
)
def test_gguf_is_recognised_by_extension_or_engine(source: str, engine: str, expected: bool) -> None:
    assert is_gguf(service(source, name=engine)) is expected
