"""Engine adapters behind one protocol: vLLM, SGLang, TGI, Triton + TensorRT-LLM, llama.cpp."""

from __future__ import annotations

from kubellm.render.engines.base import EngineAdapter, EngineContext, EngineMetrics, WorkerCommand
from kubellm.render.engines.llamacpp import LlamacppAdapter
from kubellm.render.engines.sglang import SglangAdapter
from kubellm.render.engines.tgi import TgiAdapter
from kubellm.render.engines.trtllm import TritonTrtllmAdapter
from kubellm.render.engines.vllm import VllmAdapter

ADAPTERS: dict[str, EngineAdapter] = {
    "vllm": VllmAdapter(),
    "sglang": SglangAdapter(),
    "tgi": TgiAdapter(),
    "trtllm": TritonTrtllmAdapter(),
    "llamacpp": LlamacppAdapter(),
}


def adapter_for(engine: str) -> EngineAdapter:
    """The adapter of an engine name (the spec's ``engine.name``)."""
    return ADAPTERS[str(engine)]


__all__ = ["ADAPTERS", "EngineAdapter", "EngineContext", "EngineMetrics", "WorkerCommand", "adapter_for"]
