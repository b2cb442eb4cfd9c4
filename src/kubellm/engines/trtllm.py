"""TensorRT-LLM: ``trtllm-serve`` (the plan's arguments) and Triton's OpenAI frontend (what kubellm renders).

TensorRT-LLM serves compiled engines. The plan states its settings as ``trtllm-serve`` flags (the
underscore spellings of its --help); on a cluster kubellm compiles engines in a Job and runs Triton's
OpenAI-compatible frontend (``openai_frontend/main.py``) on the model repository. Triton's HTTP server
listens while the models load; ``/v2/health/ready`` (KServe frontend) answers 200 only once every model
of the ensemble is ready. The frontend serves the ensemble under the name ``ensemble``.

Metrics: ``nv_inference_pending_request_count`` (queue), the backend's
``nv_trt_llm_request_metrics{request_type="active"}`` and
``nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}``.
"""

from __future__ import annotations

from kubellm.engines.table import KUBELLM, EngineTable, Flag, MetricNames, Readiness

TRITON_MODEL_NAME = "ensemble"
KSERVE_HTTP_PORT = 8000

SERVE_FLAGS = (
    Flag(
        "--tp_size",
        setting="tensor_parallel",
        owner="gpu.count",
        aliases=("--tp", "--tensor-parallel-size", "--world-size"),
        kind="int",
    ),
    Flag(
        "--pp_size",
        setting="pipeline_parallel",
        owner="gpu.nodes",
        aliases=("--pp", "--pipeline-parallel-size"),
        kind="int",
    ),
    Flag("--max_seq_len", setting="max_model_len", owner="serving.max_model_len", kind="int"),
    Flag("--max_batch_size", setting="max_num_seqs", owner="serving.max_num_seqs", kind="int"),
    Flag(
        "--max_num_tokens",
        setting="max_num_batched_tokens",
        owner="serving.max_num_batched_tokens",
        kind="int",
    ),
    Flag(
        "--kv_cache_free_gpu_memory_fraction",
        setting="gpu_memory_utilization",
        owner="gpu.memory_utilization",
        kind="float",
    ),
    Flag("--use_fp8", setting="quantization", owner="model.quantization", boolean=True, derived=True),
    Flag("--max_input_len", setting="max_model_len", owner="serving.max_model_len", derived=True),
    Flag("--dtype", setting="dtype", owner="model.dtype", aliases=("--dt",)),
)
FRONTEND_FLAGS = (
    Flag("--model-repository", setting="model", owner="model.source", aliases=("--model-store",)),
    Flag("--tokenizer", owner="model.source"),
    Flag("--backend", owner=KUBELLM),
    Flag("--host", owner=KUBELLM),
    Flag("--openai-port", owner=KUBELLM, kind="int"),
    Flag("--kserve-http-port", owner=KUBELLM, kind="int"),
)

TRTLLM = EngineTable(
    name="trtllm",
    title="TensorRT-LLM (Triton)",
    flags=SERVE_FLAGS + FRONTEND_FLAGS,
    default_port=9000,
    readiness=Readiness(
        ready_path="/v2/health/ready",
        live_path="/v2/health/live",
        listens_before_loaded=True,
        ready_paths=("/health", "/v1/models", "/v2/health/ready", "/health/ready"),
        serving_path="/health/ready",  # the OpenAI frontend's own readiness route (live/ready: KServe port)
    ),
    metrics=MetricNames(
        queue="nv_inference_pending_request_count",
        running='nv_trt_llm_request_metrics{request_type="active"}',
        kv_usage='nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}',
    ),
    served_name_flag=None,
    upstream_model=TRITON_MODEL_NAME,
    switches=("--enable-kserve-frontends",),
)

# Triton Inference Server without the OpenAI frontend (`tritonserver --model-repository=…`): lint only.
TRITON = EngineTable(
    name="triton",
    title="Triton Inference Server",
    flags=(
        Flag("--model-repository", setting="model", aliases=("--model-store",)),
        Flag(
            "--tp",
            setting="tensor_parallel",
            aliases=("--tp-size", "--tensor-parallel-size", "--world-size"),
            kind="int",
        ),
        Flag(
            "--pp", setting="pipeline_parallel", aliases=("--pp-size", "--pipeline-parallel-size"), kind="int"
        ),
        Flag("--max-seq-len", setting="max_model_len", aliases=("--max-input-len",), kind="int"),
        Flag("--dtype", setting="dtype", aliases=("--dt",)),
        Flag("--http-port", kind="int"),
    ),
    default_port=8000,
    readiness=Readiness(
        ready_path="/v2/health/ready",
        live_path="/v2/health/live",
        listens_before_loaded=True,
        ready_paths=("/v2/health/ready",),
    ),
    metrics=MetricNames(
        queue="nv_inference_pending_request_count",
        running='nv_trt_llm_request_metrics{request_type="active"}',
        kv_usage='nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}',
    ),
    rendered=False,
)
