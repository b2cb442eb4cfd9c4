"""`kubellm up`: plan the spec, start engine replicas and the gateway as processes, wait, stop.

The stack is health-gated (each engine answers before the gateway starts; the gateway answers before
the endpoint is announced) and stops as a whole: any child exiting stops the rest.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from kubellm.errors import KubellmError, UsageError
from kubellm.local import commands
from kubellm.local.engines import EngineChoice, LocalEngine, choose_engine, is_gguf
from kubellm.local.environment import Environment, probe_environment
from kubellm.local.health import StartError, wait_until_healthy
from kubellm.local.ports import LOOPBACK, ensure_port_free, free_ports
from kubellm.local.processes import Child, ProcessSpec, Supervisor, command_line, describe_exit
from kubellm.planning.result import Plan
from kubellm.spec import LLMService, dump_spec

# Longest wait for one engine when the plan gives no startup budget (vLLM without a plan never starts).
DEFAULT_STARTUP_TIMEOUT_S = {LocalEngine.SIM: 60.0, LocalEngine.LLAMACPP: 300.0, LocalEngine.VLLM: 1800.0}
GATEWAY_STARTUP_TIMEOUT_S = 60.0


class ProcessDiedError(KubellmError):
    """A process of a running stack exited on its own."""


@dataclass(frozen=True)
class UpOptions:
    """What the command line asked for."""

    port: int = 8000
    engine: str = "auto"
    replicas: int | None = None
    run_dir: Path | None = None
    api_keys_file: Path | None = None
    timeout_s: float | None = None
    spec_dir: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class StackInfo:
    """A running stack, as announced to the user (and written to ``run.json``)."""

    endpoint: str
    served_name: str
    engine: str
    reason: str
    replicas: list[str]
    run_dir: str
    gateway_config: str
    pids: dict[str, int]
    startup_s: float
    api_key: str | None = None
    plan_note: str = ""

    def to_json_dict(self) -> dict[str, object]:
        return asdict(self)


def make_plan(spec: LLMService) -> Plan:
    """The planner's answer for ``spec`` (imported here: planning loads the catalog)."""
    from kubellm.planning import plan

    result: Plan = plan(spec)
    return result


def default_run_dir(spec: LLMService) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / ".kubellm" / "runs" / f"{spec.metadata.name}-{stamp}"


class LocalStack:
    """Engine replicas and a gateway on this machine; ``start`` then ``watch``, and always ``stop``."""

    def __init__(
        self,
        spec: LLMService,
        options: UpOptions,
        env: Environment | None = None,
        say: Callable[[str], None] = lambda line: None,
        on_wait: Callable[[str, float], None] = lambda name, waited_s: None,
    ) -> None:
        self.spec = spec
        self.options = options
        self.env = env
        self.say = say
        self.on_wait = on_wait
        self.run_dir = (options.run_dir or default_run_dir(spec)).resolve()
        self.supervisor = Supervisor(self.run_dir)
        self.plan: Plan | None = None
        self.plan_note = ""
        self.gpu_note = ""
        self.choice: EngineChoice | None = None

    # ---------------------------------------------------------------- decisions, before any process
    def decide(self) -> EngineChoice:
        """Check the port, choose the engine and plan; nothing is started yet."""
        ensure_port_free(self.options.port)
        if self.env is None:
            self.env = probe_environment()
        self.choice = choose_engine(self.spec, self.env, self.options.engine)
        try:
            self.plan = make_plan(self._planning_spec(self.choice, self.env))
        except KubellmError as exc:
            if self.choice.engine == LocalEngine.VLLM:
                raise
            if self.choice.engine == LocalEngine.SIM:
                raise UsageError(
                    f"the simulator imitates a planned engine, and planning failed: {exc.what}",
                    "set model.name to a catalog model (`kubellm models` lists them) or model.config to the "
                    "model's config.json",
                ) from None
            unnamed_gguf = is_gguf(self.spec) and not (self.spec.model.name or self.spec.model.config)
            reason = (
                "a GGUF file names no catalog model; set model.name to plan it" if unnamed_gguf else exc.what
            )
            self.plan_note = f"not planned ({reason}); llama.cpp defaults apply"
        if self.plan is not None:
            if not self.plan.fits and self.choice.engine in (LocalEngine.VLLM, LocalEngine.SIM):
                fix = (
                    self.plan.suggestion.what
                    if self.plan.suggestion
                    else "choose a larger GPU or a smaller model"
                )
                raise UsageError(f"{self.plan.model} does not fit {self.plan.gpu} as planned", f"try: {fix}")
            s = self.plan.settings
            self.plan_note = (
                f"{self.plan.model} on {self.plan.gpu}: max_model_len {s.max_model_len}, "
                f"max_num_seqs {s.max_num_seqs}, KV cache {self.plan.kv_cache.tokens} tokens"
                + (f" ({self.gpu_note})" if self.gpu_note else "")
            )
        return self.choice

    def _planning_spec(self, choice: EngineChoice, env: Environment) -> LLMService:
        """The spec to plan: for vLLM, with this machine's GPU (the spec's GPU type names the cluster's)."""
        if choice.engine != LocalEngine.VLLM or not env.gpus or self.spec.gpu.mig_profile:
            return self.spec
        from kubellm.catalog import default_catalog

        catalog = default_catalog()
        local = catalog.find_gpu(env.gpus[0])
        if local is None:
            self.gpu_note = (
                f"this machine's {env.gpus[0]} is not in the catalog: planned for {self.spec.gpu.type}"
            )
            return self.spec
        if catalog.find_gpu(self.spec.gpu.type) is local:
            return self.spec
        self.gpu_note = f"planned for this machine's {local.name}; the spec names {self.spec.gpu.type}"
        return self.spec.model_copy(update={"gpu": self.spec.gpu.model_copy(update={"type": local.name})})

    def replica_count(self, engine: LocalEngine, env_gpus: int) -> int:
        wanted = self.options.replicas or max(1, self.spec.scaling.min_replicas)
        if engine != LocalEngine.VLLM or self.plan is None:
            return wanted
        per_replica = self.plan.parallelism.gpus_per_replica
        fit = env_gpus // per_replica
        if fit < 1:
            raise UsageError(
                f"the plan needs {per_replica} GPUs per replica; this machine has {env_gpus}",
                "use --engine sim to try the stack without the GPUs, or deploy with `kubellm render`",
            )
        return min(wanted, fit)

    # ---------------------------------------------------------------- processes
    def _engine_spec(self, engine: LocalEngine, index: int, port: int, count: int) -> ProcessSpec:
        if engine == LocalEngine.SIM:
            return commands.sim_process(self.spec, self.run_dir / "spec.yaml", index, port)
        if engine == LocalEngine.LLAMACPP:
            path = commands.gguf_path(self.spec, self.options.spec_dir)
            if not path.is_file():
                raise UsageError(f"model.source {path} is not a file", "give the path of a .gguf file")
            threads = max(1, (os.cpu_count() or 1) // count)
            return commands.llamacpp_process(self.spec, index, port, path, self.plan, n_threads=threads)
        assert self.plan is not None  # decide() refuses vLLM without a plan
        per_replica = self.plan.parallelism.gpus_per_replica
        gpu_ids = list(range(index * per_replica, (index + 1) * per_replica))
        return commands.vllm_process(self.spec, index, port, self.plan, gpu_ids)

    def _timeout(self, engine: LocalEngine) -> float:
        if self.options.timeout_s is not None:
            return self.options.timeout_s
        if engine == LocalEngine.VLLM and self.plan is not None:
            return float(self.plan.probes.startup_budget_s)  # the planner's budget, at least 600 s
        return DEFAULT_STARTUP_TIMEOUT_S[engine]

    def _waiting(self, child: Child) -> Callable[[float], None]:
        """The progress callback of one child's health wait."""
        return lambda waited: self.on_wait(child.spec.name, waited)

    def _launch(self, spec: ProcessSpec) -> Child:
        (self.run_dir / f"{spec.name}.cmd").write_text(command_line(spec.argv) + "\n", encoding="utf-8")
        return self.supervisor.start(spec)

    def _api_key(self) -> tuple[Path | None, str | None]:
        if self.options.api_keys_file is not None:
            if not self.options.api_keys_file.is_file():
                raise UsageError(
                    f"{self.options.api_keys_file}: no such file", "give a file of 'id:key' lines"
                )
            return self.options.api_keys_file.resolve(), None
        if self.spec.security.api_key_secret is None:
            return None, None
        key = "sk-local-" + secrets.token_hex(16)
        path = self.run_dir / "api-keys"
        path.write_text(f"local:{key}\n", encoding="utf-8")
        path.chmod(0o600)
        return path, key

    def start(self) -> StackInfo:
        """Start every process, health-gated; on any failure (Ctrl-C too) stop what was started and raise."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        began = time.monotonic()
        choice = self.choice or self.decide()
        count = self.replica_count(choice.engine, len(self.env.gpus) if self.env is not None else 0)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "spec.yaml").write_text(dump_spec(self.spec), encoding="utf-8")
        health_path = commands.HEALTH_PATHS[choice.engine]
        # Every replica starts at once (they load in parallel), then each must answer.
        launched: list[tuple[Child, str, float]] = []
        for index, port in enumerate(free_ports(count)):
            spec = self._engine_spec(choice.engine, index, port, count)
            self.say(f"starting {spec.name} ({choice.engine.value}) on {LOOPBACK}:{port}")
            launched.append((self._launch(spec), f"http://{LOOPBACK}:{port}", time.monotonic()))
        for child, url, launched_at in launched:
            wait_until_healthy(
                child, url + health_path, self._timeout(choice.engine), on_wait=self._waiting(child)
            )
            self.say(f"{child.spec.name} is healthy after {time.monotonic() - launched_at:.1f} s")
        urls = [url for _, url, _ in launched]

        keys_file, api_key = self._api_key()
        config = commands.gateway_config(
            self.spec, urls, self.options.port, choice.engine, keys_file, plan=self.plan
        )
        config_path = self.run_dir / "gateway.yaml"
        config_path.write_text(
            yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8"
        )
        ensure_port_free(self.options.port)  # it may have been taken while the engines loaded
        gateway = commands.gateway_process(config_path)
        self.say(
            f"starting gateway on {LOOPBACK}:{self.options.port} ({self.spec.gateway.routing} over {count} replica(s))"
        )
        wait_until_healthy(
            self._launch(gateway),
            f"http://{LOOPBACK}:{self.options.port}/health",
            GATEWAY_STARTUP_TIMEOUT_S,
            on_wait=lambda waited: self.on_wait("gateway", waited),
        )

        info = StackInfo(
            endpoint=f"http://{LOOPBACK}:{self.options.port}/v1",
            served_name=commands.served_name(self.spec),
            engine=choice.engine.value,
            reason=choice.reason,
            replicas=urls,
            run_dir=str(self.run_dir),
            gateway_config=str(config_path),
            pids=self.supervisor.pids(),
            startup_s=round(time.monotonic() - began, 2),
            api_key=api_key,
            plan_note=self.plan_note,
        )
        (self.run_dir / "run.json").write_text(
            json.dumps(info.to_json_dict(), indent=2) + "\n", encoding="utf-8"
        )
        return info

    def watch(self, interval_s: float = 0.5, until: Callable[[], bool] = lambda: False) -> None:
        """Block while every process runs (or until ``until()`` is true); raise when one exits."""
        while not until():
            child = self.supervisor.first_exited()
            if child is not None:
                status = child.exited()
                raise ProcessDiedError(
                    f"{child.spec.name} {describe_exit(status if status is not None else 0)}\n"
                    f"--- last lines of {child.log_path} ---\n{child.log_tail()}",
                    f"read {child.log_path}; every other process was stopped",
                )
            time.sleep(interval_s)

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the gateway (it drains in-flight requests), then the engines; SIGKILL after ``grace_s``."""
        self.supervisor.stop_all(grace_s, first=("gateway",))


__all__ = ["LocalStack", "ProcessDiedError", "StackInfo", "StartError", "UpOptions"]
