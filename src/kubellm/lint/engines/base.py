"""EngineConfig: what an engine's command line and environment say, in engine-neutral terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from kubellm.engines import EngineTable, ParsedArgs, parse_flags, read_settings

# Engines kubellm recognises; `kserve-hf` is KServe's huggingfaceserver (vLLM backend, vLLM flags).
ENGINES = (
    "vllm",
    "sglang",
    "tgi",
    "triton",
    "trtllm",
    "llamacpp",
    "ollama",
    "kserve-hf",
    "nim",
    "lmdeploy",
    "ray-serve-llm",
)
# Engines whose memory accounting follows vLLM's (the planner's model): vLLM itself, KServe's
# huggingfaceserver and Ray Serve LLM, which both run vLLM's engine with vLLM's arguments.
VLLM_LIKE = frozenset({"vllm", "kserve-hf", "ray-serve-llm"})


@dataclass(slots=True)
class EngineConfig:
    """One LLM engine invocation; ``None`` means the manifest does not say.

    Setting names are the engine tables' (``kubellm.engines``); values keep the engine's spelling
    (``awq_marlin``), which ``Flag.spec_value`` maps to the spec's.
    """

    engine: str
    argv: list[str] = field(default_factory=list)
    args: ParsedArgs = field(default_factory=ParsedArgs)
    model: str | None = None
    served_name: str | None = None
    tensor_parallel: int | None = None
    pipeline_parallel: int | None = None
    data_parallel: int | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    quantization: str | None = None
    dtype: str | None = None
    kv_cache_dtype: str | None = None
    prefix_caching: bool | None = None
    enforce_eager: bool | None = None
    download_dir: str | None = None
    device: str | None = None
    api_key: bool = False
    token_on_command_line: bool = False
    python_backend: bool = False
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    nodes: int | None = None  # nodes one engine instance spans (SGLang/vLLM --nnodes)
    extra_config: str | None = None  # a YAML file of further engine settings (TensorRT-LLM)
    sizes_context: bool = False  # the engine (or its controller) picks a context length that fits
    rank: bool = False  # a worker rank of an engine started in another pod of the group

    @property
    def gpus_needed(self) -> int:
        """GPUs one process group needs: TP × PP (× DP for engines that run DP ranks in one pod)."""
        return (self.tensor_parallel or 1) * (self.pipeline_parallel or 1) * (self.data_parallel or 1)

    @property
    def gpus_per_node(self) -> int | None:
        """GPUs each pod must bring when the engine states how many nodes it spans, else None."""
        if not self.nodes or self.nodes <= 1:
            return None
        return max(1, self.gpus_needed // self.nodes)

    @property
    def multi_gpu(self) -> bool:
        return self.gpus_needed > 1

    @property
    def vllm_like(self) -> bool:
        return self.engine in VLLM_LIKE


_FIELDS = frozenset(f.name for f in fields(EngineConfig))


def from_table(
    engine: str, table: EngineTable, argv: Sequence[str], env: Mapping[str, str], **extra: Any
) -> EngineConfig:
    """Parse ``argv`` and ``env`` by ``table`` into an EngineConfig; ``extra`` fills what the table cannot
    say (engine quirks) and wins over the table's reading."""
    args = parse_flags(argv, table.boolean_keys())
    settings = {k: v for k, v in read_settings(table, args, env).items() if k in _FIELDS}
    settings.update({k: v for k, v in extra.items() if v is not None or k not in settings})
    return EngineConfig(engine=engine, argv=list(argv), args=args, **settings)
