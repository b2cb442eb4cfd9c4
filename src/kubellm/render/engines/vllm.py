"""vLLM (first-class): every planned setting on the command line, served name, prefix caching, no request logs.

Flags follow the vLLM OpenAI server of the tested image (``vllm serve --help``); metric names are
those of its /metrics (``vllm:num_requests_waiting``, ``vllm:num_requests_running``,
``vllm:kv_cache_usage_perc``, a 0..1 fraction despite its name).
"""

from __future__ import annotations

from kubellm.engines import VLLM
from kubellm.render.engines.base import AdapterDefaults, EngineContext, Env, WorkerCommand
from kubellm.render.engines.common import pick_image
from kubellm.render.images import VLLM_IMAGE

RAY_PORT = 6379


class VllmAdapter(AdapterDefaults):
    """vLLM's OpenAI-compatible server."""

    table = VLLM

    def image(self, ctx: EngineContext) -> str:
        return pick_image(ctx, VLLM_IMAGE)

    def command(self, ctx: EngineContext) -> list[str]:
        return ["vllm", "serve"]

    def _planned(self, ctx: EngineContext) -> list[str]:
        spec = ctx.plan.spec
        args = [
            ctx.model_path,
            VLLM.flag("served_name").name, ctx.served_name,
            "--host", "0.0.0.0",
            "--port", str(self.port),
            *ctx.plan.engine_args,
        ]  # fmt: skip
        if ctx.load_format:
            args += [VLLM.named("--load-format").name, ctx.load_format]
        block_size = VLLM.flag("block_size").name
        if block_size not in ctx.plan.engine_args:
            args += [block_size, str(ctx.plan.settings.block_size)]
        if spec.observability.log_requests:
            args.append("--enable-log-requests")
        args.append("--disable-uvicorn-access-log")
        if ctx.multi_node:
            args += ["--distributed-executor-backend", "ray"]
        return args

    def args(self, ctx: EngineContext) -> list[str]:
        return self.with_extra_args(ctx, self._planned(ctx))

    def env(self, ctx: EngineContext) -> Env:
        env: Env = [
            {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
            {"name": "DO_NOT_TRACK", "value": "1"},
        ]
        if ctx.multi_node:
            env.append({"name": "VLLM_HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
        return env

    def multi_node(self, ctx: EngineContext) -> WorkerCommand | None:
        serve = " ".join(["vllm", "serve", *_quote_all(self.args(ctx))])
        gpus = ctx.plan.parallelism.gpus_per_replica
        wait = (
            'python3 -c \'import ray, time; ray.init(address="auto", logging_level="ERROR")\n'
            f'while ray.cluster_resources().get("GPU", 0) < {gpus}: time.sleep(5)\''
        )
        leader = f"ray start --head --port={RAY_PORT} --disable-usage-stats && {wait} && exec {serve}"
        worker = f"ray start --address=$(LWS_LEADER_ADDRESS):{RAY_PORT} --disable-usage-stats --block"
        return WorkerCommand(
            leader_command=["/bin/sh", "-c"],
            leader_args=[leader],
            worker_command=["/bin/sh", "-c"],
            worker_args=[worker],
        )


def _quote_all(args: list[str]) -> list[str]:
    import shlex

    return [shlex.quote(a) for a in args]
