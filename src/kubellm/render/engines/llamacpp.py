"""llama.cpp's ``llama-server``: GGUF models on CPU nodes or small GPUs.

``-c`` is the context shared by all slots, so it is ``max_model_len × parallel slots``. Metrics
(``--metrics``): ``llamacpp:requests_deferred`` (queue) and ``llamacpp:requests_processing``.
"""

from __future__ import annotations

from kubellm.render.engines.base import AdapterDefaults, EngineContext, EngineMetrics, Env
from kubellm.render.engines.common import pick_image, with_extra_args
from kubellm.render.images import LLAMACPP_CPU_IMAGE, LLAMACPP_CUDA_IMAGE


class LlamacppAdapter(AdapterDefaults):
    """llama.cpp's OpenAI-compatible server."""

    name = "llamacpp"
    port = 8080
    metrics = EngineMetrics(
        queue="llamacpp:requests_deferred", running="llamacpp:requests_processing", kv_usage=None
    )
    readiness_path = "/health"  # 503 while the model loads, 200 once it serves
    liveness_path = "/health"
    probe_port = "http"
    gateway_health_path = liveness_path
    planned_flags = frozenset(
        {
            "-m",
            "--model",
            "--alias",
            "--host",
            "--port",
            "-c",
            "--ctx-size",
            "-np",
            "--parallel",
            "-ngl",
            "--n-gpu-layers",
            "-t",
            "--threads",
            "-b",
            "--batch-size",
        }
    )

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
        if not ctx.on_gpu and "--n-gpu-layers" in plan_args:
            plan_args[plan_args.index("--n-gpu-layers") + 1] = "0"
        planned += [*plan_args, "--threads", str(ctx.plan.resources.cpu), "--metrics", "--no-webui"]
        if not ctx.plan.spec.serving.prefix_caching:
            planned += ["--cache-reuse", "0"]
        return with_extra_args(ctx, planned, self.planned_flags)

    def env(self, ctx: EngineContext) -> Env:
        env: Env = [{"name": "LLAMA_ARG_ENDPOINT_SLOTS", "value": "0"}]
        if not ctx.on_gpu:
            env.append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"})  # no GPU leaks in (M4)
        return env

    def shm_gib(self, ctx: EngineContext) -> float:
        return 0.0
