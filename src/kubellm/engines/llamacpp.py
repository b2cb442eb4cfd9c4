"""llama.cpp's ``llama-server`` (GGUF on CPU nodes and small GPUs), and llama-cpp-python's server (local mode).

``--ctx-size`` is the context shared by all ``--parallel`` slots, so one request's context is
``ctx-size / parallel``. Every flag also reads from its ``LLAMA_ARG_*`` environment variable. The
server listens while the model loads: /health answers 503 until it is loaded, then 200. Metrics
(``--metrics``): ``llamacpp:requests_deferred`` (queue) and ``llamacpp:requests_processing``.
"""

from __future__ import annotations

from kubellm.engines.table import KUBELLM, EngineTable, Flag, MetricNames, Readiness

FLAGS = (
    Flag("--model", setting="model", owner="model.source", aliases=("-m",), env="LLAMA_ARG_MODEL"),
    Flag("--alias", setting="served_name", owner="model.served_name", aliases=("-a",)),
    Flag("--host", owner=KUBELLM),
    Flag("--port", owner=KUBELLM, kind="int"),
    Flag(
        "--ctx-size",
        setting="max_model_len",
        owner="serving.max_model_len",
        aliases=("-c",),
        env="LLAMA_ARG_CTX_SIZE",
        kind="int",
        derived=True,
    ),
    Flag(
        "--parallel",
        setting="max_num_seqs",
        owner="serving.max_num_seqs",
        aliases=("-np",),
        env="LLAMA_ARG_N_PARALLEL",
        kind="int",
    ),
    Flag("--n-gpu-layers", owner="gpu.type", aliases=("-ngl", "--gpu-layers"), kind="int", derived=True),
    Flag("--threads", owner="gpu.type", aliases=("-t",), kind="int"),
    Flag(
        "--batch-size",
        setting="max_num_batched_tokens",
        owner="serving.max_num_batched_tokens",
        aliases=("-b",),
        kind="int",
    ),
    Flag(
        "--cache-reuse",
        setting="prefix_caching",
        owner="serving.prefix_caching",
        kind="int",
        derived=True,
    ),
)

LLAMACPP = EngineTable(
    name="llamacpp",
    title="llama.cpp",
    flags=FLAGS,
    default_port=8080,
    readiness=Readiness(
        ready_path="/health",
        live_path="/health",
        listens_before_loaded=True,
        ready_paths=("/health", "/v1/models"),
    ),
    metrics=MetricNames(
        queue="llamacpp:requests_deferred", running="llamacpp:requests_processing", kv_usage=None
    ),
    served_name_flag="--alias",
    switches=(
        "--cont-batching",
        "--no-mmap",
        "--mlock",
        "--flash-attn",
        "-fa",
        "--embedding",
        "--metrics",
        "--no-webui",
    ),
)

# llama-cpp-python's OpenAI server (`python -m llama_cpp.server`), which `kubellm up` runs for GGUF files.
LLAMACPP_PYTHON = EngineTable(
    name="llamacpp-python",
    title="llama-cpp-python",
    flags=(
        Flag("--model", setting="model", owner="model.source"),
        Flag("--model_alias", setting="served_name", owner="model.served_name"),
        Flag("--host", owner=KUBELLM),
        Flag("--port", owner=KUBELLM, kind="int"),
        Flag("--n_ctx", setting="max_model_len", owner="serving.max_model_len", kind="int"),
        Flag("--n_threads", owner=KUBELLM, kind="int"),
    ),
    default_port=8000,
    readiness=Readiness(
        ready_path="/v1/models",
        live_path="/v1/models",
        listens_before_loaded=False,
        ready_paths=("/v1/models",),
    ),
    served_name_flag="--model_alias",
    rendered=False,
    notes="Its server has no /health route; the model loads before uvicorn starts.",
)
