"""Hugging Face TGI: ``text-generation-launcher`` sharded over the planned GPUs.

Flags follow ``launcher/src/main.rs`` of the tested release (v3.3) and the launcher reference
(https://huggingface.co/docs/text-generation-inference/reference/launcher); metrics are
``tgi_queue_size`` and ``tgi_batch_current_size`` (TGI exports no KV-cache usage gauge).
"""

from __future__ import annotations

from kubellm.render.engines.base import AdapterDefaults, EngineContext, EngineMetrics, Env
from kubellm.render.engines.common import pick_image, with_extra_args
from kubellm.render.images import TGI_IMAGE


class TgiAdapter(AdapterDefaults):
    """TGI's router and sharded model server."""

    name = "tgi"
    port = 8080
    metrics = EngineMetrics(queue="tgi_queue_size", running="tgi_batch_current_size", kv_usage=None)
    readiness_path = "/health"  # 200 only once the shards have loaded the model
    liveness_path = "/health"
    probe_port = "http"
    gateway_health_path = liveness_path
    planned_flags = frozenset(
        {
            "--model-id",
            "--revision",
            "--served-model-name",
            "--hostname",
            "--port",
            "--num-shard",
            "--sharded",
            "--max-total-tokens",
            "--max-input-tokens",
            "--max-batch-prefill-tokens",
            "--max-concurrent-requests",
            "--cuda-memory-fraction",
            "--quantize",
            "--dtype",
            "--kv-cache-dtype",
        }
    )

    def image(self, ctx: EngineContext) -> str:
        return pick_image(ctx, TGI_IMAGE)

    def command(self, ctx: EngineContext) -> list[str]:
        return ["text-generation-launcher"]

    def _planned(self, ctx: EngineContext) -> list[str]:
        args = [
            "--model-id", ctx.model_path,
            "--hostname", "0.0.0.0",
            "--port", str(self.port),
            *ctx.plan.engine_args,
        ]  # fmt: skip
        if ctx.plan.settings.dtype in ("bfloat16", "float16") and "--quantize" not in ctx.plan.engine_args:
            args += ["--dtype", ctx.plan.settings.dtype]
        # TGI answers any model name; its launcher has no --served-model-name (checked for v3.3).
        args += ["--json-output", "--usage-stats", "off"]
        return args

    def args(self, ctx: EngineContext) -> list[str]:
        return with_extra_args(ctx, self._planned(ctx), self.planned_flags)

    def env(self, ctx: EngineContext) -> Env:
        env: Env = [
            {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "0"},
            {"name": "HUGGINGFACE_HUB_CACHE", "value": f"{ctx.cache_dir}/huggingface/hub"},  # default /data
        ]
        if not ctx.plan.spec.serving.prefix_caching:
            env.append({"name": "PREFIX_CACHING", "value": "0"})
        return env
