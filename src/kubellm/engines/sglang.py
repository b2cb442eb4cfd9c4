"""SGLang (``python3 -m sglang.launch_server --model-path M …``), as of the tested image (v0.4/0.5).

Flags follow ``sglang.launch_server --help``; metrics are ``sglang:num_queue_reqs``,
``sglang:num_running_reqs`` and ``sglang:token_usage`` (0..1, with ``--enable-metrics``). The HTTP
server starts once the scheduler has loaded the model; /v1/models then answers.
"""

from __future__ import annotations

from kubellm.engines.table import KUBELLM, EngineTable, Flag, MetricNames, Readiness
from kubellm.engines.vllm import DTYPE_READS, QUANTIZATION_READS

FLAGS = (
    Flag("--model-path", setting="model", owner="model.source", aliases=("--model",)),
    Flag("--served-model-name", setting="served_name", owner="model.served_name"),
    Flag("--load-format", owner="storage.object_store_access"),
    Flag("--host", owner=KUBELLM),
    Flag("--port", owner=KUBELLM, kind="int"),
    Flag(
        "--tp-size",
        setting="tensor_parallel",
        owner="gpu.count",
        aliases=("--tp", "--tensor-parallel-size"),
        kind="int",
    ),
    Flag(
        "--pp-size",
        setting="pipeline_parallel",
        owner="gpu.nodes",
        aliases=("--pp", "--pipeline-parallel-size"),
        kind="int",
    ),
    Flag("--dp-size", setting="data_parallel", aliases=("--dp", "--data-parallel-size"), kind="int"),
    Flag("--context-length", setting="max_model_len", owner="serving.max_model_len", kind="int"),
    Flag(
        "--mem-fraction-static",
        setting="gpu_memory_utilization",
        owner="gpu.memory_utilization",
        kind="float",
    ),
    Flag("--max-running-requests", setting="max_num_seqs", owner="serving.max_num_seqs", kind="int"),
    Flag(
        "--chunked-prefill-size",
        setting="max_num_batched_tokens",
        owner="serving.max_num_batched_tokens",
        kind="int",
    ),
    Flag("--dtype", setting="dtype", owner="model.dtype", reads=DTYPE_READS),
    Flag("--quantization", setting="quantization", owner="model.quantization", reads=QUANTIZATION_READS),
    Flag(
        "--kv-cache-dtype",
        setting="kv_cache_dtype",
        owner="serving.kv_cache_dtype",
        values=(("fp8", "fp8_e4m3"),),
    ),
    Flag(
        "--disable-radix-cache",
        setting="prefix_caching",
        owner="serving.prefix_caching",
        boolean=True,
        when_present=False,
        kind="bool",
    ),
    Flag("--nnodes", owner="gpu.nodes", kind="int"),
    Flag("--node-rank", owner="gpu.nodes", kind="int"),
    Flag("--dist-init-addr", owner="gpu.nodes"),
    Flag("--download-dir", setting="download_dir"),
    Flag("--device", setting="device"),
)

SGLANG = EngineTable(
    name="sglang",
    title="SGLang",
    flags=FLAGS,
    default_port=30000,
    readiness=Readiness(
        ready_path="/v1/models",
        live_path="/health",
        listens_before_loaded=False,
        ready_paths=("/health", "/health_generate", "/v1/models"),
    ),
    metrics=MetricNames(
        queue="sglang:num_queue_reqs", running="sglang:num_running_reqs", kv_usage="sglang:token_usage"
    ),
    served_name_flag="--served-model-name",
    switches=(
        "--trust-remote-code",
        "--enable-torch-compile",
        "--enable-dp-attention",
        "--disable-cuda-graph",
        "--enable-metrics",
        "--log-requests",
    ),
)
