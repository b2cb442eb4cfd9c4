"""Command lines of the local processes (engines and gateway) and the gateway's config: pure functions.

Engines and the gateway are separate programs that talk over HTTP, as on a cluster: `kubellm up`
only builds their command lines, starts them and waits for them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from kubellm.engines import LLAMACPP_PYTHON, VLLM, EngineTable, check_extra_args, check_extra_env
from kubellm.engines import served_name as served_name
from kubellm.local.engines import LocalEngine
from kubellm.local.ports import LOOPBACK
from kubellm.local.processes import ProcessSpec
from kubellm.planning.result import Plan
from kubellm.render.gateway_config import engine_pool
from kubellm.render.gateway_config import gateway_config as build_gateway_config
from kubellm.spec import LLMService
from kubellm.spec.gateway import GatewayConfig, HealthCheckConfig, ListenConfig, StaticBackends

# The program each local engine runs (the simulator imitates vLLM's server).
LOCAL_TABLES: dict[LocalEngine, EngineTable] = {
    LocalEngine.VLLM: VLLM,
    LocalEngine.SIM: VLLM,
    LocalEngine.LLAMACPP: LLAMACPP_PYTHON,
}
# The path each engine answers 200 on once its model is loaded (llama-cpp-python: /v1/models, no /health).
HEALTH_PATHS: dict[LocalEngine, str] = {
    engine: table.readiness.gateway_path for engine, table in LOCAL_TABLES.items()
}

# On Ctrl-C the gateway lets in-flight requests finish this long (below the supervisor's grace period).
LOCAL_DRAIN_S = 5.0

# llama.cpp contexts are per process and allocated up front: cap what a local run reserves.
LLAMA_CPP_MAX_CTX = 8192


def kubellm_command() -> list[str]:
    """How to run the kubellm CLI with the interpreter that runs us (works without the console script)."""
    if importlib.util.find_spec("kubellm.__main__") is not None:
        return [sys.executable, "-m", "kubellm"]
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'kubellm'; from kubellm.cli.app import main; main()",
    ]


def extra_args(table: EngineTable, spec: LLMService) -> list[str]:
    """The spec's extra_args after the same guard as on a cluster: one that sets a planned flag is an error."""
    check_extra_args(table, spec.engine.extra_args)
    check_extra_env(table, spec.engine.env)
    return list(spec.engine.extra_args)


def gguf_path(spec: LLMService, base_dir: Path) -> Path:
    """The GGUF file of a local source, relative paths taken from the spec file's folder."""
    path = Path(os.path.expanduser(spec.model.source))
    return path if path.is_absolute() else (base_dir / path).resolve()


def context_length(spec: LLMService, plan: Plan | None) -> int | None:
    """The context to serve: the planned one, else the spec's, else the engine's default (None)."""
    if plan is not None:
        return plan.settings.max_model_len
    return spec.serving.max_model_len


def sim_process(spec: LLMService, spec_file: Path, index: int, port: int) -> ProcessSpec:
    """A simulator replica standing in for the planned engine: it plans ``spec_file`` (the same spec) itself."""
    argv = [
        *kubellm_command(), "sim", str(spec_file),
        "--host", LOOPBACK,
        "--port", str(port),
        "--served-model-name", served_name(spec),
        "--seed", str(index),
    ]  # fmt: skip
    return ProcessSpec(name=f"engine-{index}", argv=argv)


def llamacpp_process(
    spec: LLMService, index: int, port: int, model_path: Path, plan: Plan | None, n_threads: int | None = None
) -> ProcessSpec:
    """A llama-cpp-python server replica for a GGUF file; replicas share the CPU cores (``n_threads`` each)."""
    n_ctx = min(context_length(spec, plan) or 2048, LLAMA_CPP_MAX_CTX)
    threads = n_threads or max(1, os.cpu_count() or 1)
    argv = [
        sys.executable, "-m", "kubellm.local.llamacpp_server",
        "--model", str(model_path),
        "--model_alias", served_name(spec),
        "--host", LOOPBACK,
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads),
        *extra_args(LLAMACPP_PYTHON, spec),
    ]  # fmt: skip
    return ProcessSpec(name=f"engine-{index}", argv=argv, env=dict(spec.engine.env))


def vllm_executable() -> str:
    """The `vllm` console script next to this interpreter (an unactivated venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "vllm"
    return str(beside) if beside.is_file() else "vllm"


def vllm_process(spec: LLMService, index: int, port: int, plan: Plan, gpu_ids: list[int]) -> ProcessSpec:
    """A `vllm serve` replica with the planned arguments, pinned to its GPUs."""
    argv = [
        vllm_executable(), "serve", spec.model.source_id,
        "--host", LOOPBACK,
        "--port", str(port),
        "--served-model-name", served_name(spec),
    ]  # fmt: skip
    if spec.model.revision:
        argv += ["--revision", spec.model.revision]
    argv += [*plan.engine_args, *extra_args(VLLM, spec)]
    env = {"CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in gpu_ids), **spec.engine.env}
    return ProcessSpec(name=f"engine-{index}", argv=argv, env=env)


def gateway_config(
    spec: LLMService,
    backend_urls: list[str],
    port: int,
    engine: LocalEngine,
    api_keys_file: Path | None,
    plan: Plan | None = None,
) -> GatewayConfig:
    """The gateway in front of the local replicas: the cluster's builder, with loopback and static URLs."""
    pool = engine_pool(spec, plan, StaticBackends(urls=backend_urls), LOCAL_TABLES[engine])
    return build_gateway_config(
        spec,
        [pool],
        listen=ListenConfig(host=LOOPBACK, port=port),
        health=HealthCheckConfig(path=HEALTH_PATHS[engine], interval_s=2.0),
        api_keys_file=str(api_keys_file) if api_keys_file else None,
        drain_timeout_s=LOCAL_DRAIN_S,
    )


def gateway_process(config_path: Path) -> ProcessSpec:
    """The kubellm gateway reading its config file."""
    return ProcessSpec(name="gateway", argv=[*kubellm_command(), "gateway", "--config", str(config_path)])
