"""Triton Inference Server with the TensorRT-LLM backend.

TensorRT-LLM serves compiled engines, so a replica cannot start from the Hugging Face weights: an
engine-build Job (``kubellm.render.jobs``) compiles them once per TP size and context with the
TensorRT-LLM LLM API on one GPU node of the planned type, and writes a Triton model repository
(the ``inflight_batcher_llm`` templates, filled in) on the model-cache volume. Replicas then start
Triton's OpenAI-compatible frontend on that repository. With TP > 1 the backend runs in
orchestrator mode (``TRTLLM_ORCHESTRATOR=1``), one process spawning its MPI workers.

Metrics: ``nv_inference_pending_request_count`` (queue), the backend's
``nv_trt_llm_request_metrics{request_type="active"}`` and
``nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}``.
"""

from __future__ import annotations

from typing import Any

from kubellm.engines import TRTLLM
from kubellm.engines.trtllm import KSERVE_HTTP_PORT, TRITON_MODEL_NAME
from kubellm.render.engines.base import AdapterDefaults, EngineContext, Env
from kubellm.render.engines.common import pick_image
from kubellm.render.images import TRITON_TRTLLM_IMAGE

__all__ = ["TRITON_MODEL_NAME", "TritonTrtllmAdapter", "build_script", "repository_dir"]


def repository_dir(ctx: EngineContext) -> str:
    """Where the engine-build Job writes the Triton model repository (on the cache volume)."""
    s = ctx.plan.settings
    return f"{ctx.engines_dir}/trtllm/tp{ctx.tp}-ctx{s.max_model_len}-seqs{s.max_num_seqs}"


class TritonTrtllmAdapter(AdapterDefaults):
    """Triton + TensorRT-LLM behind Triton's OpenAI-compatible frontend."""

    table = TRTLLM

    @property
    def probe_port(self) -> str:
        return "kserve-http"  # the KServe frontend's /v2/health/ready

    def image(self, ctx: EngineContext) -> str:
        return pick_image(ctx, TRITON_TRTLLM_IMAGE)

    def command(self, ctx: EngineContext) -> list[str]:
        return ["python3", "/opt/tritonserver/python/openai/openai_frontend/main.py"]

    def args(self, ctx: EngineContext) -> list[str]:
        planned = [
            "--model-repository", f"{repository_dir(ctx)}/repository",
            "--tokenizer", ctx.model_path,
            "--backend", "tensorrtllm",
            "--host", "0.0.0.0",
            "--openai-port", str(self.port),
            "--enable-kserve-frontends",
            "--kserve-http-port", str(KSERVE_HTTP_PORT),
            "--kserve-grpc-port", "8001",
            # The frontend answers requests without max_tokens with 16 tokens unless told otherwise.
            "--default-max-tokens", str(min(4096, ctx.plan.settings.max_model_len // 2)),
            "--uvicorn-log-level", "warning",
        ]  # fmt: skip
        return self.with_extra_args(ctx, planned)

    def env(self, ctx: EngineContext) -> Env:
        env: Env = []
        if ctx.tp > 1:
            env.append({"name": "TRTLLM_ORCHESTRATOR", "value": "1"})
        return env

    def ports(self) -> list[dict[str, Any]]:
        return [
            {"name": "http", "containerPort": self.port, "protocol": "TCP"},
            {"name": "kserve-http", "containerPort": KSERVE_HTTP_PORT, "protocol": "TCP"},
        ]

    def shm_gib(self, ctx: EngineContext) -> float:
        # The Python backend models of the ensemble need shared memory even on one GPU (M27).
        return max(ctx.plan.resources.shm_gib, 1.0)


def build_script(ctx: EngineContext) -> str:
    """Shell script of the engine-build Job: compile with the LLM API, then fill the model repository."""
    s = ctx.plan.settings
    out = repository_dir(ctx)
    dtype = s.dtype if s.dtype in ("bfloat16", "float16") else "auto"
    return f"""#!/bin/sh
# Compiles TensorRT-LLM engines for {ctx.served_name} (TP {ctx.tp}, context {s.max_model_len}) and writes
# a Triton model repository. Rendered by kubellm; idempotent: a finished build leaves .kubellm-built.
set -eu
OUT={out}
if [ -f "$OUT/.kubellm-built" ]; then echo "engines already built in $OUT"; exit 0; fi
rm -rf "$OUT" && mkdir -p "$OUT/engines" "$OUT/repository"
python3 - <<'PY'
from tensorrt_llm import LLM, BuildConfig
build = BuildConfig(max_seq_len={s.max_model_len}, max_batch_size={s.max_num_seqs}, max_num_tokens={s.max_num_batched_tokens})
llm = LLM(model="{ctx.model_path}", tensor_parallel_size={ctx.tp}, dtype="{dtype}", build_config=build)
llm.save("{out}/engines")
PY
TEMPLATES=${{TRTLLM_TEMPLATES:-/app/all_models/inflight_batcher_llm}}
FILL=${{TRTLLM_FILL_TEMPLATE:-/app/tools/fill_template.py}}
cp -r "$TEMPLATES"/. "$OUT/repository/"
COMMON="triton_max_batch_size:{s.max_num_seqs},max_queue_delay_microseconds:0"
python3 "$FILL" -i "$OUT/repository/preprocessing/config.pbtxt" "tokenizer_dir:{ctx.model_path},$COMMON,preprocessing_instance_count:1,max_num_images:0"
python3 "$FILL" -i "$OUT/repository/postprocessing/config.pbtxt" "tokenizer_dir:{ctx.model_path},$COMMON,postprocessing_instance_count:1"
python3 "$FILL" -i "$OUT/repository/tensorrt_llm_bls/config.pbtxt" "$COMMON,decoupled_mode:true,bls_instance_count:1,accumulate_tokens:false,logits_datatype:TYPE_FP32,tensorrt_llm_model_name:tensorrt_llm,prompt_embedding_table_data_type:TYPE_FP16"
python3 "$FILL" -i "$OUT/repository/ensemble/config.pbtxt" "triton_max_batch_size:{s.max_num_seqs},logits_datatype:TYPE_FP32"
python3 "$FILL" -i "$OUT/repository/tensorrt_llm/config.pbtxt" "$COMMON,decoupled_mode:true,engine_dir:$OUT/engines,max_tokens_in_paged_kv_cache:{ctx.plan.kv_cache.tokens},kv_cache_free_gpu_mem_fraction:{s.gpu_memory_utilization},batching_strategy:inflight_fused_batching,triton_backend:tensorrtllm,encoder_input_features_data_type:TYPE_FP16,logits_datatype:TYPE_FP32,enable_kv_cache_reuse:{str(ctx.plan.spec.serving.prefix_caching).lower()}"
touch "$OUT/.kubellm-built"
echo "built engines and model repository in $OUT"
"""
