"""SGLang: ``python3 -m sglang.launch_server`` with the planned context, memory fraction and batch caps.

Flags follow ``sglang.launch_server --help`` of the tested image; metrics are SGLang's
``sglang:num_queue_reqs``, ``sglang:num_running_reqs`` and ``sglang:token_usage`` (0..1).
"""

from __future__ import annotations

from kubellm.engines import SGLANG
from kubellm.render.engines.base import AdapterDefaults, EngineContext, Env, WorkerCommand
from kubellm.render.engines.common import pick_image
from kubellm.render.images import SGLANG_IMAGE

DIST_INIT_PORT = 20000


class SglangAdapter(AdapterDefaults):
    """SGLang's OpenAI-compatible server."""

    table = SGLANG

    def image(self, ctx: EngineContext) -> str:
        return pick_image(ctx, SGLANG_IMAGE)

    def command(self, ctx: EngineContext) -> list[str]:
        return ["python3", "-m", "sglang.launch_server"]

    def _planned(self, ctx: EngineContext) -> list[str]:
        args = [
            "--model-path", ctx.model_path,
            "--served-model-name", ctx.served_name,
            "--host", "0.0.0.0",
            "--port", str(self.port),
            *ctx.plan.engine_args,
        ]  # fmt: skip
        if ctx.load_format:
            args += [SGLANG.named("--load-format").name, ctx.load_format]
        args += ["--enable-metrics", "--log-level", "warning"]
        if ctx.plan.spec.observability.log_requests:
            args.append("--log-requests")
        return args

    def args(self, ctx: EngineContext) -> list[str]:
        return self.with_extra_args(ctx, self._planned(ctx))

    def env(self, ctx: EngineContext) -> Env:
        return [{"name": "SGLANG_DISABLE_USAGE_STATS", "value": "1"}]

    def multi_node(self, ctx: EngineContext) -> WorkerCommand | None:
        nodes = ctx.plan.parallelism.nodes_per_replica
        base = self.args(ctx)
        dist = ["--nnodes", str(nodes), "--dist-init-addr", f"$(LWS_LEADER_ADDRESS):{DIST_INIT_PORT}"]
        return WorkerCommand(
            leader_command=self.command(ctx),
            leader_args=[*base, *dist, "--node-rank", "0"],
            worker_command=self.command(ctx),
            worker_args=[*base, *dist, "--node-rank", "$(LWS_WORKER_INDEX)"],
        )
