"""Hugging Face TGI: ``text-generation-launcher`` sharded over the planned GPUs.

Flags follow ``launcher/src/main.rs`` of the tested release (v3.3) and the launcher reference
(https://huggingface.co/docs/text-generation-inference/reference/launcher); metrics are
``tgi_queue_size`` and ``tgi_batch_current_size`` (TGI exports no KV-cache usage gauge).
"""

from __future__ import annotations

from kubellm.engines import TGI
from kubellm.render.engines.base import AdapterDefaults, EngineContext, Env
from kubellm.render.engines.common import pick_image
from kubellm.render.images import TGI_IMAGE


class TgiAdapter(AdapterDefaults):
    """TGI's router and sharded model server."""

    table = TGI

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
        # TGI answers any model name; its launcher has no --served-model-name (checked for v3.3).
        args += ["--json-output", "--usage-stats", "off"]
        return args

    def args(self, ctx: EngineContext) -> list[str]:
        return self.with_extra_args(ctx, self._planned(ctx))

    def env(self, ctx: EngineContext) -> Env:
        env: Env = [
            {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "0"},
            {"name": "HUGGINGFACE_HUB_CACHE", "value": f"{ctx.cache_dir}/huggingface/hub"},  # default /data
        ]
        prefix = TGI.env_setting("PREFIX_CACHING")
        if prefix is not None and not ctx.plan.spec.serving.prefix_caching:
            env.append({"name": prefix.name, "value": dict(prefix.values)["false"]})
        return env
