"""Engines lint recognises but kubellm does not plan or render: Ollama, NVIDIA NIM, LMDeploy, Ray Serve LLM.

Each is configured mostly by environment (Ollama, NIM) or a few flags (LMDeploy); Ray Serve LLM takes
vLLM's engine arguments as ``engine_kwargs`` keys (the underscore spellings of vLLM's flags).
"""

from __future__ import annotations

from kubellm.engines.table import EngineTable, EnvSetting, Flag, MetricNames, Readiness

# Ollama: `ollama serve`, configured by OLLAMA_* variables; models load on the first request.
OLLAMA = EngineTable(
    name="ollama",
    title="Ollama",
    flags=(),
    default_port=11434,
    readiness=Readiness(ready_path="/", live_path="/", listens_before_loaded=True, ready_paths=()),
    rendered=False,
    env=(
        EnvSetting("OLLAMA_CONTEXT_LENGTH", setting="max_model_len", kind="int"),
        EnvSetting("OLLAMA_NUM_PARALLEL", setting="max_num_seqs", kind="int"),
        EnvSetting("OLLAMA_MODELS", setting="download_dir"),
        EnvSetting("OLLAMA_HOST"),
    ),
    notes="Loads a model on its first request: / answers 'Ollama is running' before any model is loaded.",
)

# NVIDIA NIM for LLMs: the container picks a profile; NIM_* variables override it.
NIM = EngineTable(
    name="nim",
    title="NVIDIA NIM",
    flags=(),
    default_port=8000,
    readiness=Readiness(
        ready_path="/v1/health/ready",
        live_path="/v1/health/live",
        listens_before_loaded=True,
        ready_paths=("/v1/health/ready",),
    ),
    rendered=False,
    env=(
        EnvSetting("NIM_MAX_MODEL_LEN", setting="max_model_len", kind="int"),
        EnvSetting("NIM_TENSOR_PARALLEL_SIZE", setting="tensor_parallel", kind="int"),
        EnvSetting("NIM_PIPELINE_PARALLEL_SIZE", setting="pipeline_parallel", kind="int"),
        EnvSetting("NIM_SERVED_MODEL_NAME", setting="served_name"),
        EnvSetting("NIM_MODEL_NAME", setting="model"),
        EnvSetting("NIM_MODEL_PATH", setting="model"),
        EnvSetting("NIM_CACHE_PATH", setting="download_dir"),
        EnvSetting("NIM_SERVER_PORT", kind="int"),
    ),
    notes="/v1/health/live answers while the model loads; /v1/health/ready only once it serves.",
)

# LMDeploy: `lmdeploy serve api_server MODEL --tp 2 --session-len 8192 …`.
LMDEPLOY = EngineTable(
    name="lmdeploy",
    title="LMDeploy",
    flags=(
        Flag("--tp", setting="tensor_parallel", kind="int"),
        Flag("--session-len", setting="max_model_len", kind="int"),
        Flag("--max-batch-size", setting="max_num_seqs", kind="int"),
        Flag("--cache-max-entry-count", setting="kv_cache_fraction", kind="float"),
        Flag("--model-name", setting="served_name"),
        Flag("--server-port", kind="int"),
        Flag("--server-name"),
        Flag("--backend"),
        Flag("--model-format", setting="quantization"),
        Flag("--quant-policy", kind="int"),
        Flag("--download-dir", setting="download_dir"),
        Flag("--api-keys"),
    ),
    default_port=23333,
    readiness=Readiness(
        ready_path="/v1/models",
        live_path="/health",
        listens_before_loaded=False,
        ready_paths=("/health", "/v1/models"),
    ),
    rendered=False,
    switches=("--enable-prefix-caching", "--enable-metrics"),
    notes="--cache-max-entry-count is the KV cache's share of the memory left after the weights, not of the GPU.",
)

# Ray Serve LLM: `serve run config.yaml`; vLLM settings live in engine_kwargs (vLLM's names, underscores).
RAY_SERVE_LLM = EngineTable(
    name="ray-serve-llm",
    title="Ray Serve LLM",
    flags=(),
    default_port=8000,
    readiness=Readiness(
        ready_path="/-/healthz",
        live_path="/-/healthz",
        listens_before_loaded=True,
        ready_paths=("/-/healthz",),
    ),
    metrics=MetricNames(
        queue="ray_serve_num_ongoing_http_requests",
        running="ray_serve_replica_processing_queries",
        kv_usage=None,
    ),
    rendered=False,
    notes="The proxy's /-/healthz answers before the LLM deployment has loaded its model; the dashboard is 8265.",
)

# Ray Serve LLM's engine_kwargs keys read as vLLM settings (vLLM's flag names with underscores).
RAY_ENGINE_KWARGS = {
    "tensor_parallel_size": "tensor_parallel",
    "pipeline_parallel_size": "pipeline_parallel",
    "max_model_len": "max_model_len",
    "gpu_memory_utilization": "gpu_memory_utilization",
    "max_num_seqs": "max_num_seqs",
    "quantization": "quantization",
    "dtype": "dtype",
    "kv_cache_dtype": "kv_cache_dtype",
}
