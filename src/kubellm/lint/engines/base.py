"""EngineConfig: what an engine's command line and environment say, in engine-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubellm.lint.engines.argv import ParsedArgs

# Engines kubellm recognises; `kserve-hf` is KServe's huggingfaceserver (vLLM backend, vLLM flags).
ENGINES = ("vllm", "sglang", "tgi", "triton", "trtllm", "llamacpp", "ollama", "kserve-hf")
# Engines whose memory accounting follows vLLM's (the planner's model).
VLLM_LIKE = frozenset({"vllm", "kserve-hf"})


@dataclass(slots=True)
class EngineConfig:
    """One LLM engine invocation; ``None`` means the manifest does not say."""

    engine: str
    argv: list[str] = field(default_factory=list)
    args: ParsedArgs = field(default_factory=ParsedArgs)
    model: str | None = None
    tensor_parallel: int | None = None
    pipeline_parallel: int | None = None
    data_parallel: int | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    quantization: str | None = None
    dtype: str | None = None
    kv_cache_dtype: str | None = None
    download_dir: str | None = None
    device: str | None = None
    api_key: bool = False
    token_on_command_line: bool = False
    python_backend: bool = False
    max_num_seqs: int | None = None

    @property
    def gpus_needed(self) -> int:
        """GPUs one process group needs: TP × PP (× DP for engines that run DP ranks in one pod)."""
        return (self.tensor_parallel or 1) * (self.pipeline_parallel or 1) * (self.data_parallel or 1)

    @property
    def multi_gpu(self) -> bool:
        return self.gpus_needed > 1

    @property
    def vllm_like(self) -> bool:
        return self.engine in VLLM_LIKE
