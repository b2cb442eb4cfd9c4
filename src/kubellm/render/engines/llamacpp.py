"""llama.cpp's ``llama-server``: GGUF models on CPU nodes or small GPUs.

``-c`` is the context shared by all slots, so it is ``max_model_len × parallel slots``. Metrics
(``--metrics``): ``llamacpp:requests_deferred`` (queue) and ``llamacpp:requests_processing``.
"""

from __future__ import annotations

from kubellm.engines import LLAMACPP
from kubellm.render.engines.base import AdapterDefaults, EngineContext, Env
from kubellm.render.engines.common import pick_image
from kubellm.render.images import LLAMACPP_CPU_IMAGE, LLAMACPP_CUDA_IMAGE


class LlamacppAdapter(AdapterDefaults):
    """llama.cpp's OpenAI-compatible server."""

    table = LLAMACPP

    def image(self, ctx: EngineContext) -> str:
        return pick_image(ctx, LLAMACPP_CUDA_IMAGE if ctx.on_gpu else LLAMACPP_CPU_IMAGE)

    def command(self, ctx: EngineContext) -> list[str]:
        return ["/app/llama-server"]

    def args(self, ctx: EngineContext) -> list[str]:
        planned = [
            "--model", ctx.model_path,
            "--alias", ctx.served_name,
            "--host", "0.0.0.0",
            "--port", str(self.port),
        ]  # fmt: skip
        plan_args = list(ctx.plan.engine_args)
        gpu_layers = LLAMACPP.named("--n-gpu-layers").name
        if not ctx.on_gpu and gpu_layers in plan_args:
            plan_args[plan_args.index(gpu_layers) + 1] = "0"
        planned += [*plan_args, "--threads", str(ctx.plan.resources.cpu), "--metrics", "--no-webui"]
        if not ctx.plan.spec.serving.prefix_caching:
            planned += [LLAMACPP.named("--cache-reuse").name, "0"]
        return self.with_extra_args(ctx, planned)

    def env(self, ctx: EngineContext) -> Env:
        env: Env = [{"name": "LLAMA_ARG_ENDPOINT_SLOTS", "value": "0"}]
        if not ctx.on_gpu:
            env.append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"})  # no GPU leaks in (M4)
        return env

    def shm_gib(self, ctx: EngineContext) -> float:
        return 0.0
