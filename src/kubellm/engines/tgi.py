"""Hugging Face TGI (``text-generation-launcher``), as of the tested release (v3.3).

Flags follow ``launcher/src/main.rs`` and the launcher reference; every flag also reads from its
environment twin in UPPER_SNAKE case (``--max-total-tokens`` ↔ ``MAX_TOTAL_TOKENS``), the flag winning.
Prefix caching is switched by the ``PREFIX_CACHING`` environment variable only. Metrics are
``tgi_queue_size`` and ``tgi_batch_current_size`` (no KV-cache gauge). The router starts its HTTP server
only once every shard has loaded the model; TGI answers any model name.
"""

from __future__ import annotations

from kubellm.engines.table import KUBELLM, EngineTable, EnvSetting, Flag, MetricNames, Readiness

# The spec's quantization → TGI's --quantize.
QUANTIZE = (
    ("fp8", "fp8"),
    ("awq", "awq"),
    ("gptq", "gptq"),
    ("int8", "bitsandbytes"),
    ("int4", "bitsandbytes-nf4"),
)
KV_CACHE_DTYPE = (("fp8", "fp8_e4m3fn"), ("fp8_e4m3", "fp8_e4m3fn"), ("fp8_e5m2", "fp8_e5m2"))

FLAGS = (
    Flag("--model-id", setting="model", owner="model.source"),
    Flag("--revision", owner="model.revision"),
    Flag("--served-model-name", setting="served_name", owner="model.served_name"),
    Flag("--hostname", owner=KUBELLM),
    Flag("--port", owner=KUBELLM, kind="int"),
    Flag("--num-shard", setting="tensor_parallel", owner="gpu.count", kind="int"),
    Flag("--sharded", owner="gpu.count", boolean=True, kind="bool"),
    Flag("--max-total-tokens", setting="max_model_len", owner="serving.max_model_len", kind="int"),
    Flag("--max-input-tokens", setting="max_model_len", owner="serving.max_model_len", derived=True),
    Flag(
        "--max-batch-prefill-tokens",
        setting="max_num_batched_tokens",
        owner="serving.max_num_batched_tokens",
        derived=True,
        kind="int",
    ),
    Flag("--max-concurrent-requests", setting="max_num_seqs", owner="serving.max_num_seqs", kind="int"),
    Flag(
        "--cuda-memory-fraction",
        setting="gpu_memory_utilization",
        owner="gpu.memory_utilization",
        kind="float",
    ),
    Flag("--quantize", setting="quantization", owner="model.quantization", values=QUANTIZE),
    Flag("--dtype", setting="dtype", owner="model.dtype"),
    Flag("--kv-cache-dtype", setting="kv_cache_dtype", owner="serving.kv_cache_dtype", values=KV_CACHE_DTYPE),
    Flag("--huggingface-hub-cache", setting="download_dir", env="HUGGINGFACE_HUB_CACHE"),
)

TGI = EngineTable(
    name="tgi",
    title="TGI",
    flags=FLAGS,
    default_port=3000,
    port=8080,
    readiness=Readiness(
        ready_path="/health", live_path="/health", listens_before_loaded=False, ready_paths=("/health",)
    ),
    metrics=MetricNames(queue="tgi_queue_size", running="tgi_batch_current_size", kv_usage=None),
    served_name_flag=None,
    switches=("--trust-remote-code", "--disable-custom-kernels", "--json-output"),
    env=(
        EnvSetting(
            "PREFIX_CACHING",
            setting="prefix_caching",
            owner="serving.prefix_caching",
            kind="bool",
            values=(("true", "1"), ("false", "0")),
        ),
    ),
    env_twins=True,
    notes="The image sets PORT=80; kubellm passes --port 8080 so the pod runs as non-root.",
)
