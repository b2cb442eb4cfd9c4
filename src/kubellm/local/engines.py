"""Which engine serves a spec locally, and why: a pure function of the spec and the machine.

vLLM when it is installed and a GPU is present; llama.cpp for GGUF models when llama-cpp-python (with
its server extra) is installed; the simulator otherwise. The reason is always said out loud.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kubellm.errors import UsageError
from kubellm.local.environment import Environment
from kubellm.spec import EngineName, LLMService

INSTALL_LLAMA_CPP = "pip install 'llama-cpp-python[server]' (or: pip install 'kubellm[llamacpp]')"


class LocalEngine(StrEnum):
    """Engines `kubellm up` can start as local processes."""

    VLLM = "vllm"
    LLAMACPP = "llamacpp"
    SIM = "sim"


ENGINE_CHOICES = ("auto", *(e.value for e in LocalEngine))


@dataclass(frozen=True)
class EngineChoice:
    """The engine that will run, and the sentence that says why."""

    engine: LocalEngine
    reason: str


def is_gguf(spec: LLMService) -> bool:
    """The spec serves a GGUF file (llama.cpp's format)."""
    return (
        spec.model.source.lower().endswith(".gguf")
        or spec.model.quantization == "gguf"
        or spec.engine.name == EngineName.LLAMACPP
    )


def _llama_cpp_gap(env: Environment) -> str:
    if not env.llama_cpp_installed:
        return f"llama-cpp-python is not installed ({INSTALL_LLAMA_CPP})"
    return f"llama-cpp-python's server extra is missing {', '.join(env.llama_cpp_server_missing)} ({INSTALL_LLAMA_CPP})"


def _vllm_gap(env: Environment) -> str:
    if not env.vllm_installed:
        return "vLLM is not installed (pip install vllm, on a machine with an NVIDIA GPU)"
    return f"vLLM is installed but no NVIDIA GPU was found ({env.gpu_note})"


def choose_engine(spec: LLMService, env: Environment, requested: str = "auto") -> EngineChoice:
    """Pick the local engine for ``spec`` on a machine described by ``env``.

    ``requested`` is 'auto' or an engine name; a named engine that cannot run here is a UsageError
    saying what is missing, never a silent fallback.
    """
    if requested not in ENGINE_CHOICES:
        raise UsageError(f"unknown engine {requested!r}", f"use one of: {', '.join(ENGINE_CHOICES)}")
    vllm_ready = env.vllm_installed and bool(env.gpus)
    gguf = is_gguf(spec)
    if requested == LocalEngine.SIM:
        return EngineChoice(LocalEngine.SIM, "the simulator was asked for (--engine sim)")
    if requested == LocalEngine.VLLM:
        if not vllm_ready:
            raise UsageError(
                f"--engine vllm cannot run here: {_vllm_gap(env)}",
                "install vLLM on a GPU machine, or use --engine auto",
            )
        if gguf:
            raise UsageError(
                "--engine vllm was asked for a GGUF model",
                "serve GGUF with --engine llamacpp, or give an hf:// source",
            )
        return EngineChoice(LocalEngine.VLLM, f"vLLM was asked for (--engine vllm); {env.gpu_note}")
    if requested == LocalEngine.LLAMACPP:
        if not gguf:
            raise UsageError(
                "--engine llamacpp needs a GGUF model",
                "set model.source to a local .gguf file, or use --engine auto",
            )
        if not env.llama_cpp_server_ready:
            raise UsageError(f"--engine llamacpp cannot run here: {_llama_cpp_gap(env)}", INSTALL_LLAMA_CPP)
        return EngineChoice(LocalEngine.LLAMACPP, "llama.cpp was asked for (--engine llamacpp)")

    if gguf:
        if env.llama_cpp_server_ready:
            return EngineChoice(
                LocalEngine.LLAMACPP, "the model is a GGUF file and llama-cpp-python is installed"
            )
        return EngineChoice(LocalEngine.SIM, f"the model is a GGUF file but {_llama_cpp_gap(env)}")
    if spec.engine.name != EngineName.VLLM:
        return EngineChoice(
            LocalEngine.SIM,
            f"engine {spec.engine.name.value!r} has no local runner; the simulator speaks its API",
        )
    if vllm_ready:
        return EngineChoice(LocalEngine.VLLM, f"vLLM is installed and {env.gpu_note}")
    return EngineChoice(LocalEngine.SIM, _vllm_gap(env))
