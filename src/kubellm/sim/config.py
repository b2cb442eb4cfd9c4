"""What the simulator needs to know about the engine it imitates, and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubellm.errors import UsageError

if TYPE_CHECKING:
    from kubellm.planning.result import Plan
    from kubellm.sim.timing import StepTimer
    from kubellm.spec import LLMService


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Engine limits (as vLLM would be started with them) and the simulator's own knobs."""

    served_model_name: str
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    kv_blocks: int
    block_size: int = 16
    prefix_caching: bool = True
    seed: int = 0
    model_root: str = ""  # the checkpoint id /v1/models reports as 'root'
    stop_mean_tokens: float | None = None  # None: every request generates max_tokens
    request_overhead_s: float = 0.0  # API server + tokenizer time before a request reaches the scheduler
    request_overhead_jitter: float = 0.0  # … drawn uniformly within ± this fraction of it (seeded)
    frontend_serial_s: float = 0.0  # … of which the API server process does this much a request at a time

    def __post_init__(self) -> None:
        if self.kv_blocks * self.block_size < self.max_model_len:
            raise UsageError(
                f"the KV cache holds {self.kv_blocks * self.block_size} tokens, less than max_model_len "
                f"{self.max_model_len}: one full-length request could never run",
                "lower --max-model-len or use a GPU with more memory (vLLM refuses to start here too)",
            )
        if self.max_num_batched_tokens < 1 or self.max_num_seqs < 1:
            raise UsageError("max_num_seqs and max_num_batched_tokens must be at least 1", "raise them")
        if self.request_overhead_s < 0:
            raise UsageError("request_overhead_s must not be negative", "give 0 or more seconds")
        if not 0 <= self.request_overhead_jitter < 1:
            raise UsageError("request_overhead_jitter must be in [0, 1)", "give a fraction such as 0.5")
        if not 0 <= self.frontend_serial_s <= self.request_overhead_s:
            raise UsageError(
                "frontend_serial_s must be between 0 and request_overhead_s (it is a part of it)",
                "give 0 or a share of the request overhead",
            )

    @property
    def kv_tokens(self) -> int:
        return self.kv_blocks * self.block_size


def config_from_plan(
    plan: Plan,
    *,
    served_model_name: str | None = None,
    prefix_caching: bool | None = None,
    seed: int = 0,
    stop_mean_tokens: float | None = None,
) -> SimConfig:
    """The engine a plan describes: its KV blocks, batching limits, context length and the fixed time a
    request spends before the scheduler sees it (from the plan's performance model)."""

    if not plan.fits:
        fix = f"{plan.suggestion.what} ({plan.suggestion.why})" if plan.suggestion else "pick a larger GPU"
        raise UsageError(
            f"{plan.model} does not fit on {plan.gpu} as planned, so there is no engine to simulate", fix
        )
    spec = plan.spec
    name = served_model_name or served_name_of(spec)
    return SimConfig(
        served_model_name=name,
        max_model_len=plan.settings.max_model_len,
        max_num_seqs=plan.settings.max_num_seqs,
        max_num_batched_tokens=plan.settings.max_num_batched_tokens,
        kv_blocks=plan.kv_cache.blocks,
        block_size=plan.kv_cache.block_size,
        prefix_caching=spec.serving.prefix_caching if prefix_caching is None else prefix_caching,
        seed=seed,
        model_root=spec.model.source_id,
        stop_mean_tokens=stop_mean_tokens,
        request_overhead_s=plan.performance_model.request_overhead_ms / 1e3,
        frontend_serial_s=plan.performance_model.frontend_serial_ms / 1e3,
    )


def served_name_of(spec: LLMService) -> str:
    """The name clients send: the same rule as on a cluster and in ``kubellm up`` (kubellm.engines)."""
    from kubellm.engines import served_name

    return served_name(spec)


def service_from_flags(
    model: str,
    gpu: str,
    *,
    tp: int | None = None,
    max_num_seqs: int | None = None,
    max_model_len: int | None = None,
    max_num_batched_tokens: int | None = None,
    name: str = "sim",
) -> LLMService:
    """An LLMService for ``kubellm sim --model M --gpu G`` (a catalog name or 'org/name' id)."""
    from kubellm.catalog import default_catalog
    from kubellm.spec import LLMService

    if model.startswith("hf://"):
        source = model
    elif "/" in model:
        source = f"hf://{model}"
    else:  # a catalog name or alias: download id from the catalog, served under the name given
        source = f"hf://{default_catalog().model(model).hf_id}"
    model_section: dict[str, object] = {"source": source, "served_name": model.removeprefix("hf://")}
    serving: dict[str, object] = {}
    if max_num_seqs is not None:
        serving["max_num_seqs"] = max_num_seqs
    if max_model_len is not None:
        serving["max_model_len"] = max_model_len
    if max_num_batched_tokens is not None:
        serving["max_num_batched_tokens"] = max_num_batched_tokens
    gpu_section: dict[str, object] = {"type": gpu}
    if tp is not None:
        gpu_section["count"] = tp
    return LLMService.model_validate(
        {"metadata": {"name": name}, "model": model_section, "gpu": gpu_section, "serving": serving}
    )


def planned_engine(
    spec: LLMService,
    *,
    served_model_name: str | None = None,
    prefix_caching: bool | None = None,
    seed: int = 0,
    stop_mean_tokens: float | None = None,
) -> tuple[Plan, SimConfig, StepTimer]:
    """Plan ``spec`` and return the plan, the engine it describes and its step-time model."""
    from kubellm.planning import plan

    the_plan = plan(spec)
    config = config_from_plan(
        the_plan,
        served_model_name=served_model_name,
        prefix_caching=prefix_caching,
        seed=seed,
        stop_mean_tokens=stop_mean_tokens,
    )
    return the_plan, config, the_plan.performance_model
