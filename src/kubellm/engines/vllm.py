"""vLLM's OpenAI-compatible server (``vllm serve MODEL …``), as of the tested image (v0.10).

Flags follow ``vllm serve --help``; every flag accepts ``_`` or ``-`` and ``--flag=value``. Metric names
are those of its /metrics (``vllm:kv_cache_usage_perc`` is a 0..1 fraction despite its name). The API
server starts only after the engine has loaded the model and captured its CUDA graphs, so any route
that answers means the model is loaded; /v1/models is the conventional readiness path.
"""

from __future__ import annotations

from kubellm.engines.table import KUBELLM, EngineTable, Flag, MetricNames, Readiness

# vLLM's --quantization method names that mean one of the spec's quantizations.
QUANTIZATION_READS = (
    ("awq_marlin", "awq"),
    ("gptq_marlin", "gptq"),
    ("gptq_marlin_24", "gptq"),
    ("w8a8", "int8"),
    ("w4a16", "int4"),
    ("bitsandbytes", "int8"),
    ("fbgemm_fp8", "fp8"),
    ("modelopt", "fp8"),
    ("compressed-tensors", "none"),
)
DTYPE_READS = (("half", "float16"), ("fp16", "float16"), ("bf16", "bfloat16"), ("float", "float32"))

FLAGS = (
    Flag("--model", setting="model", owner="model.source"),
    Flag("--served-model-name", setting="served_name", owner="model.served_name"),
    Flag("--load-format", owner="storage.object_store_access"),
    Flag("--host", owner=KUBELLM),
    Flag("--port", owner=KUBELLM, kind="int"),
    Flag("--max-model-len", setting="max_model_len", owner="serving.max_model_len", kind="int"),
    Flag(
        "--gpu-memory-utilization",
        setting="gpu_memory_utilization",
        owner="gpu.memory_utilization",
        kind="float",
    ),
    Flag(
        "--tensor-parallel-size",
        setting="tensor_parallel",
        owner="gpu.count",
        aliases=("-tp",),
        kind="int",
    ),
    Flag(
        "--pipeline-parallel-size",
        setting="pipeline_parallel",
        owner="gpu.nodes",
        aliases=("-pp",),
        kind="int",
    ),
    Flag("--data-parallel-size", setting="data_parallel", aliases=("-dp",), kind="int"),
    Flag("--max-num-seqs", setting="max_num_seqs", owner="serving.max_num_seqs", kind="int"),
    Flag(
        "--max-num-batched-tokens",
        setting="max_num_batched_tokens",
        owner="serving.max_num_batched_tokens",
        kind="int",
    ),
    Flag("--dtype", setting="dtype", owner="model.dtype", reads=DTYPE_READS),
    Flag(
        "--quantization",
        setting="quantization",
        owner="model.quantization",
        aliases=("-q",),
        reads=QUANTIZATION_READS,
    ),
    Flag("--kv-cache-dtype", setting="kv_cache_dtype", owner="serving.kv_cache_dtype"),
    Flag(
        "--enable-prefix-caching",
        setting="prefix_caching",
        owner="serving.prefix_caching",
        negation="--no-enable-prefix-caching",
        boolean=True,
        kind="bool",
    ),
    Flag(
        "--enforce-eager",
        setting="enforce_eager",
        owner="serving.enforce_eager",
        negation="--no-enforce-eager",  # bool fields take BooleanOptionalAction (arg_utils.py:208@v0.11.0)
        boolean=True,
        kind="bool",
    ),
    Flag("--block-size", setting="block_size", owner=KUBELLM, kind="int"),
    Flag("--revision", owner="model.revision"),
    Flag("--download-dir", setting="download_dir", owner="storage.model_cache"),
    Flag("--device", setting="device"),
)

SWITCHES = (
    "--trust-remote-code",
    "--enable-chunked-prefill",
    "--no-enable-chunked-prefill",
    "--disable-log-requests",
    "--disable-log-stats",
    "--enable-lora",
    "--disable-uvicorn-access-log",
    "--enable-auto-tool-choice",
    "--enable-expert-parallel",
    "--disable-custom-all-reduce",
    "--enable-reasoning",
    "--disable-frontend-multiprocessing",
    "--headless",
    "--enable-log-requests",
    "--enable-sleep-mode",
    "--async-scheduling",
)

VLLM = EngineTable(
    name="vllm",
    title="vLLM",
    flags=FLAGS,
    default_port=8000,
    readiness=Readiness(
        ready_path="/v1/models",
        live_path="/health",
        listens_before_loaded=False,
        ready_paths=("/health", "/v1/models", "/ping"),
    ),
    metrics=MetricNames(
        queue="vllm:num_requests_waiting",
        running="vllm:num_requests_running",
        kv_usage="vllm:kv_cache_usage_perc",
    ),
    served_name_flag="--served-model-name",
    switches=SWITCHES,
    notes="KServe's huggingfaceserver takes the same flags (engine 'kserve-hf' in lint).",
)
