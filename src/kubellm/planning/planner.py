"""plan(spec) → Plan: memory, parallelism, KV capacity, performance, cost and resources, with reasons."""

from __future__ import annotations

from kubellm.catalog import Catalog, GpuSpec, ModelArch, default_catalog, resolve_model
from kubellm.catalog.model import QUANT_BYTES
from kubellm.errors import PlanError
from kubellm.planning import memory as mem
from kubellm.planning.cpu import CPU_DEVICE, check_cpu_engine, is_cpu, on_cpu_node
from kubellm.planning.engine_args import engine_args
from kubellm.planning.explain import graphs_text, kv_heads_text, layout_text, memory_warnings
from kubellm.planning.instance import mig_resource, plan_instance
from kubellm.planning.kv_layout import max_concurrency, reported_tokens
from kubellm.planning.layout import (
    MIN_AUTO_CONTEXT,
    ROUTINE_CONCURRENCY,
    Layout,
    MemoryFit,
    auto_context,
    gib,
    kv_dtype_bytes,
    memory_fit,
    sliced_gpu,
    valid_tps,
    weights_total,
)
from kubellm.planning.performance import PerformanceModel
from kubellm.planning.resources import pod_resources, probes
from kubellm.planning.result import (
    Cost,
    Decision,
    EngineSettings,
    InstancePlan,
    KvCache,
    MemoryBreakdown,
    Parallelism,
    Performance,
    Plan,
    PodResources,
)
from kubellm.planning.suggest import suggest
from kubellm.planning.vllm_versions import VllmAccounting, accounting_for, version_from_image
from kubellm.spec import LLMService
from kubellm.spec.service import GpuSharing

GIB = mem.GIB
_NO_COST = Cost(
    usd_per_hour=None,
    usd_per_million_output_tokens=None,
    price_basis="does not fit: no price for a plan that cannot run",
)
DECODE_BATCHES = (1, 8, 32, 128, 256)
PERF_CONTEXT = 1024  # the context of the H200 decode measurements


class _Planner:
    def __init__(
        self, spec: LLMService, model: ModelArch, gpu: GpuSpec, catalog: Catalog, acct: VllmAccounting
    ) -> None:
        self.spec = spec
        self.model = model
        self.physical_gpu = gpu
        self.gpu = sliced_gpu(gpu, spec)
        self.catalog = catalog
        self.acct = acct
        self.decisions: list[Decision] = []
        self.warnings: list[str] = []

    def decide(self, what: str, why: str) -> None:
        self.decisions.append(Decision(what=what, why=why))

    # ---- dtype, quantization, KV dtype ---------------------------------------------------------
    def dtype(self) -> str:
        requested = self.spec.model.dtype
        dtype = self.model.dtype if requested == "auto" else requested
        if dtype == "bfloat16" and not self.gpu.supports_bf16:
            self.decide(
                "dtype=float16",
                f"{self.physical_gpu.name} (compute capability {self.gpu.compute_capability}) has no bfloat16; "
                "vLLM fails with 'Bfloat16 is only supported on GPUs with compute capability of at least 8.0'",
            )
            return "float16"
        return dtype

    def quantization(self) -> str | None:
        requested = self.spec.model.quantization
        checkpoint = self.model.quantization
        if requested == "none":
            if checkpoint:
                self.decide(
                    f"quantization={checkpoint} (checkpoint)", f"the checkpoint is stored as {checkpoint}"
                )
            return None
        if requested == "fp8" and not self.gpu.supports_fp8:
            self.warnings.append(
                f"fp8 on {self.physical_gpu.name} (compute capability {self.gpu.compute_capability}) runs weight-only "
                "(FP8 Marlin): memory halves, speed does not improve"
            )
        if requested not in QUANT_BYTES:
            raise PlanError(
                f"quantization {requested!r} is not planned", f"use one of {', '.join(QUANT_BYTES)}"
            )
        return requested

    # ---- layout search ---------------------------------------------------------------------------
    def candidate_tps(self) -> list[int]:
        if self.spec.gpu.sharing != GpuSharing.EXCLUSIVE:
            return [1]
        return valid_tps(self.model, self.spec.gpu.gpus_per_node)

    def fixed_tp(self) -> int | None:
        count = self.spec.gpu.count
        if count is None:
            return None
        nodes = self.spec.gpu.nodes
        if count % nodes:
            raise PlanError(
                f"gpu.count {count} is not a multiple of gpu.nodes {nodes}",
                "give a count divisible by the nodes",
            )
        tp = count // nodes
        if self.spec.gpu.sharing != GpuSharing.EXCLUSIVE and count != 1:
            raise PlanError(
                f"gpu.count {count} with sharing {self.spec.gpu.sharing.value}",
                "a shared GPU (MIG slice, time-slicing, MPS) serves one replica on one device: set gpu.count 1",
            )
        valid = valid_tps(self.model, max(tp, 64))
        if tp not in valid:
            raise PlanError(
                f"--tp/gpu.count {tp} does not divide {self.model.name}'s {self.model.num_attention_heads} attention heads "
                f"({self.model.num_kv_heads} KV heads)",
                f"use a tensor-parallel size of {', '.join(map(str, [v for v in valid if v <= 16]))}",
            )
        return tp

    def run(self) -> Plan:
        spec = self.spec
        dtype = self.dtype()
        quant = self.quantization()
        kv_dtype = spec.serving.kv_cache_dtype
        defaults = mem.engine_defaults(
            self.gpu.memory_gib,
            self.physical_gpu.name,
            self.acct.batch_defaults,
            self.physical_gpu.unified_memory,
        )
        seqs = spec.serving.max_num_seqs or defaults.max_num_seqs
        mnbt = spec.serving.max_num_batched_tokens or defaults.max_num_batched_tokens
        if spec.serving.max_model_len and spec.serving.max_model_len > self.model.max_position_embeddings:
            self.warnings.append(
                f"max_model_len {spec.serving.max_model_len} exceeds {self.model.name}'s native "
                f"{self.model.max_position_embeddings}; vLLM refuses it without rope scaling"
            )
        fixed = self.fixed_tp()
        tp, m, ctx, fits = self._search(fixed, dtype, quant, seqs, mnbt)
        self._explain_layout(tp, fixed, m, ctx, fits, mnbt, seqs, defaults)
        return self._assemble(fits, tp, spec.gpu.nodes, m, ctx, dtype, quant, kv_dtype, seqs, mnbt)

    def _search(
        self, fixed: int | None, dtype: str, quant: str | None, seqs: int, mnbt: int
    ) -> tuple[int, MemoryFit, int, bool]:
        """The smallest TP that fits (or the fixed one): (tp, memory, context, fits); the first tried when none fits."""
        spec = self.spec
        first: tuple[int, MemoryFit, int] | None = None
        for tp in [fixed] if fixed else self.candidate_tps():
            layout = Layout(
                tp, spec.gpu.nodes, dtype, quant, spec.serving.kv_cache_dtype, spec.serving.max_model_len
            )
            m = memory_fit(self.model, self.gpu, spec, layout, seqs, mnbt, self.acct)
            ctx = self._context(m, mnbt)
            if self._fits(m, ctx, mnbt):
                return tp, m, ctx, True
            first = first or (tp, m, ctx)
        assert first is not None
        return (*first, False)

    def _context(self, m: MemoryFit, mnbt: int) -> int:
        if self.spec.serving.max_model_len:
            return self.spec.serving.max_model_len
        return auto_context(self.model, m, mnbt, self.spec.serving.target_concurrency)

    def _fits(self, m: MemoryFit, ctx: int, mnbt: int) -> bool:
        if m.kv <= 0 or ctx <= 0:
            return False
        if not self.spec.serving.max_model_len and ctx < min(
            MIN_AUTO_CONTEXT, self.model.max_position_embeddings
        ):
            return False
        return max_concurrency(m.layout, m.blocks, ctx, mnbt) >= 1.0

    def _explain_layout(
        self,
        tp: int,
        fixed: int | None,
        m: MemoryFit,
        ctx: int,
        fits: bool,
        mnbt: int,
        seqs: int,
        defaults: mem.EngineDefaults,
    ) -> None:
        per_gpu = f"{self.gpu.memory_gib:.2f} GiB × {self.spec.gpu.memory_utilization:.2f}"
        if fixed:
            self.decide(f"tensor_parallel={tp}", "set by the spec (gpu.count) or --tp")
        elif fits:
            smaller = [t for t in self.candidate_tps() if t < tp]
            why = "the smallest tensor-parallel size that fits" + (
                f" (TP {', '.join(map(str, smaller))} leave no room for one {ctx}-token request)"
                if smaller
                else ""
            )
            self.decide(
                f"tensor_parallel={tp}",
                why + f"; valid sizes divide the {self.model.num_attention_heads} heads",
            )
        graphs = graphs_text(m.graphs, m.graphs_in_budget, self.spec.serving.enforce_eager)
        self.decide(
            f"kv_cache={gib(m.kv)} per GPU",
            f"budget {per_gpu} − weights {gib(m.weights)} − activation peak {gib(m.activation)} − non-torch "
            f"{gib(m.non_torch)}{graphs}; vLLM {self.acct.label} accounting",
        )
        bpt = int(m.bytes_per_token)
        kind = self.model.attention_kind
        self.decide(
            f"kv_bytes_per_token={bpt}",
            f"{kind}: {self.model.num_kv_layers} KV layers × {kv_heads_text(self.model, tp)} "
            + ("(latent replicated on every TP rank)" if self.model.is_mla else "")
            + layout_text(m.layout),
        )
        if self.spec.serving.max_model_len:
            self.decide(f"max_model_len={ctx}", "set by the spec or --max-model-len")
        elif ctx:
            native = self.model.max_position_embeddings
            self.decide(
                f"max_model_len={ctx}",
                f"the longest context ≤ the native {native} that keeps room for "
                f"{min(self.spec.serving.target_concurrency, ROUTINE_CONCURRENCY)} full-length requests",
            )
        if not self.spec.serving.max_num_seqs:
            self.decide(
                f"max_num_seqs={seqs}, max_num_batched_tokens={mnbt}",
                f"vLLM's defaults for {self.physical_gpu.name} ({defaults.max_num_seqs} seqs / "
                f"{defaults.max_num_batched_tokens} tokens); the sampler's dummy batch of {seqs} sequences sets most "
                f"of the {gib(m.activation)} activation peak",
            )
        self.warnings += memory_warnings(self.spec, self.gpu, self.physical_gpu.name, m)

    # ---- assembly ----------------------------------------------------------------------------------
    def _assemble(
        self, fits: bool, tp: int, pp: int, m: MemoryFit, ctx: int, dtype: str, quant: str | None, kv_dtype: str,
        seqs: int, mnbt: int,
    ) -> Plan:  # fmt: skip
        spec, model, gpu = self.spec, self.model, self.gpu
        engine = spec.engine.name.value
        gpus = tp * pp
        concurrency_at_ctx = max_concurrency(m.layout, m.blocks, ctx, mnbt) if ctx else 0.0
        settings = EngineSettings(
            engine=engine,
            max_model_len=ctx,
            gpu_memory_utilization=spec.gpu.memory_utilization,
            max_num_seqs=seqs,
            max_num_batched_tokens=mnbt,
            dtype="auto" if dtype == model.dtype else dtype,
            quantization=quant,
            kv_cache_dtype=kv_dtype,
            block_size=m.layout.block_size,
            enforce_eager=spec.serving.enforce_eager,
        )
        parallelism = Parallelism(
            tensor_parallel=tp, pipeline_parallel=pp, gpus_per_replica=gpus, nodes_per_replica=pp
        )
        weights_bytes = weights_total(model, spec, dtype, quant)
        compute_dtype = "fp8" if quant == "fp8" and gpu.supports_fp8 else dtype
        perf_model = PerformanceModel(model, gpu, tp, m.weights, m.bytes_per_token, compute_dtype, pp)
        performance = self._performance(perf_model, m, ctx, seqs, mnbt)
        mig = spec.gpu.sharing == GpuSharing.MIG and spec.gpu.mig_profile
        gpu_resource = (
            (mig_resource(spec) or f"nvidia.com/mig-{spec.gpu.mig_profile}") if mig else "nvidia.com/gpu"
        )
        # Weights streamed or read from a bucket at start are not in a local cache.
        cached = spec.storage.model_cache != "none" and not spec.model.source.startswith(("gs://", "s3://"))
        resources = pod_resources(
            weights_bytes_per_pod=weights_bytes / pp,
            weights_bytes_total=weights_bytes,
            gpus_per_pod=tp,
            tp=tp,
            gpu_resource=gpu_resource,
            cached=cached,
            cache_size_gib=spec.storage.size_gib,
        )
        instance = self._instance(resources, pp)
        if instance is not None and not fits:  # the shape stays visible; a plan that cannot run has no price
            instance = instance.model_copy(update={"usd_per_replica_hour": None})
        cost = self._cost(gpus, performance.output_tokens_per_s, instance) if fits else _NO_COST
        probe = probes(engine=engine, weights_bytes_per_pod=weights_bytes / pp, downloads_at_start=not cached)
        self.decide(
            f"startup_probe_budget={probe.startup_budget_s}s",
            f"load {probe.load_s}s"
            + (
                f" + download {probe.download_s}s"
                if probe.download_s
                else " (weights prefetched to the cache)"
            )
            + " × 1.5 margin, at least 600 s: a shorter budget kills the pod mid-load",
        )
        if tp > 1:
            self.decide(
                f"shm={resources.shm_gib:g}GiB",
                "NCCL needs a memory-backed /dev/shm when TP > 1 (the 64 MiB default fails)",
            )
        suggestion = None if fits else self._suggest()
        return Plan(
            fits=fits,
            model=model.name,
            gpu=gpu.name,
            memory=MemoryBreakdown(
                total_gib=round(gpu.memory_gib, 2),
                budget_gib=round(spec.gpu.memory_utilization * gpu.memory_gib, 2),
                weights_gib=round(m.weights / GIB, 2),
                activation_gib=round(m.activation / GIB, 2),
                non_torch_gib=round(m.non_torch / GIB, 2),
                cuda_graph_gib=round(m.graphs / GIB, 2),
                kv_cache_gib=round(m.kv / GIB, 2),
                headroom_gib=round(
                    ((1 - spec.gpu.memory_utilization) * gpu.memory_gib * GIB - m.graphs) / GIB, 2
                ),
            ),
            kv_cache=KvCache(
                bytes_per_token=int(m.bytes_per_token),
                bytes_per_token_model=model.kv_bytes_per_token(1, kv_dtype_bytes(kv_dtype, dtype)),
                block_size=m.layout.block_size,
                blocks=m.blocks,
                tokens=reported_tokens(m.layout, m.blocks, ctx, mnbt, self.acct) if ctx else 0,
                max_concurrency=round(concurrency_at_ctx, 2),
                max_model_len=ctx,
            ),
            parallelism=parallelism,
            settings=settings,
            engine_args=engine_args(settings, parallelism, spec.serving.prefix_caching) if fits else [],
            vllm_version=self.acct.label,
            resources=resources,
            probes=probe,
            performance=performance,
            cost=cost,
            decisions=self.decisions,
            warnings=self.warnings,
            suggestion=suggestion,
            instance=instance,
            spec=spec,
            model_arch=model,
            gpu_spec=self.physical_gpu,
            performance_model=perf_model,
        )

    def _performance(
        self, perf: PerformanceModel, m: MemoryFit, ctx: int, seqs: int, mnbt: int
    ) -> Performance:
        by_batch = {b: round(perf.decode_step_ms(b, PERF_CONTEXT), 3) for b in DECODE_BATCHES}
        per_request = PERF_CONTEXT + 256
        kv_room = int(max_concurrency(m.layout, m.blocks, per_request, mnbt)) if m.blocks else 0
        concurrency = max(1, min(self.spec.serving.target_concurrency, seqs, kv_room or 1))
        if concurrency < self.spec.serving.target_concurrency:
            self.warnings.append(
                f"target concurrency {self.spec.serving.target_concurrency} is above what one replica holds "
                f"({concurrency} requests of {per_request} tokens): add replicas or GPUs"
            )
        itl, tokens_per_s = perf.steady_state(concurrency)
        self._check_slo(perf, concurrency, itl, mnbt)
        return Performance(
            decode_ms_per_step=by_batch[1],
            decode_ms_by_batch=by_batch,
            prefill_tokens_per_s=round(perf.prefill_tokens_per_s(), 1),
            concurrency=concurrency,
            itl_ms=round(itl, 3),
            output_tokens_per_s=round(tokens_per_s, 1),
            ttft_ms=round(perf.ttft_ms(PERF_CONTEXT, mnbt), 2),
        )

    def _check_slo(self, perf: PerformanceModel, concurrency: int, itl_ms: float, mnbt: int) -> None:
        """Warn when the predicted latency at the target concurrency already breaks serving.slo."""
        slo = self.spec.serving.slo
        ttft = perf.ttft_ms(PERF_CONTEXT, mnbt, concurrency - 1, PERF_CONTEXT + 128)
        fix = "lower serving.target_concurrency, add GPUs, or size with `kubellm plan --slo … --traffic …`"
        if itl_ms > slo.itl_p95_ms:
            self.warnings.append(
                f"serving.slo.itl_p95_ms {slo.itl_p95_ms:g} is broken: the predicted ITL at the target concurrency "
                f"{concurrency} is {itl_ms:.1f} ms (mean; the p95 is higher) — {fix}"
            )
        if ttft > slo.ttft_p95_ms:
            self.warnings.append(
                f"serving.slo.ttft_p95_ms {slo.ttft_p95_ms:g} is broken: the predicted TTFT of a {PERF_CONTEXT:,}-token "
                f"prompt at the target concurrency {concurrency} is {ttft:,.0f} ms — {fix}"
            )

    def _instance(self, resources: PodResources, nodes: int) -> InstancePlan | None:
        chosen, decision, warning = plan_instance(self.spec, self.physical_gpu.name, resources, nodes)
        if decision is not None:
            self.decisions.append(decision)
        if warning is not None:
            self.warnings.append(warning)
        return chosen

    def _cost(self, gpus: int, tokens_per_s: float, instance: InstancePlan | None = None) -> Cost:
        if instance is not None and instance.usd_per_replica_hour is not None:
            per_hour = instance.usd_per_replica_hour
            per_million = per_hour / (tokens_per_s * 3600) * 1e6 if tokens_per_s > 0 else None
            return Cost(
                usd_per_hour=round(per_hour, 3),
                usd_per_million_output_tokens=round(per_million, 4) if per_million is not None else None,
                price_basis=instance.price_basis,
            )
        price = self.gpu.usd_per_hour
        if price is None:
            return Cost(
                usd_per_hour=None,
                usd_per_million_output_tokens=None,
                price_basis="no price known for this GPU",
            )
        per_hour = price * gpus
        per_million = per_hour / (tokens_per_s * 3600) * 1e6 if tokens_per_s > 0 else None
        return Cost(
            usd_per_hour=round(per_hour, 3),
            usd_per_million_output_tokens=round(per_million, 4) if per_million is not None else None,
            price_basis=self.physical_gpu.price_basis or "catalog price",
        )

    # ---- what would fit ----------------------------------------------------------------------------
    def _suggest(self) -> Decision | None:
        def probe(candidate: LLMService, gpu: GpuSpec) -> tuple[int, int] | None:
            return _Planner(candidate, self.model, gpu, self.catalog, self.acct)._probe()

        return suggest(
            self.spec, self.model, self.physical_gpu, self.gpu, self.catalog, probe, self.acct.batch_defaults
        )

    def _probe(self) -> tuple[int, int] | None:
        """(GPUs per replica, context) if this spec fits, else None — without building a Plan."""
        defaults = mem.engine_defaults(
            self.gpu.memory_gib,
            self.physical_gpu.name,
            self.acct.batch_defaults,
            self.physical_gpu.unified_memory,
        )
        seqs = self.spec.serving.max_num_seqs or defaults.max_num_seqs
        mnbt = self.spec.serving.max_num_batched_tokens or defaults.max_num_batched_tokens
        tp, _, ctx, fits = self._search(self.fixed_tp(), self.dtype(), self.quantization(), seqs, mnbt)
        return (tp * self.spec.gpu.nodes, ctx) if fits else None


def resolve_gpu(spec: LLMService, catalog: Catalog) -> GpuSpec:
    return catalog.gpu(spec.gpu.type)


def plan(
    spec: LLMService,
    catalog: Catalog | None = None,
    *,
    model: ModelArch | None = None,
    gpu: GpuSpec | None = None,
    vllm_version: str | None = None,
    generation: str = "v1",
    flashinfer_sampler: bool | None = None,
) -> Plan:
    """Plan one replica of ``spec``: pure, deterministic, fast.

    ``model``/``gpu`` override the catalog lookups (a parsed config.json, a custom GPU).
    ``vllm_version`` picks the release whose memory accounting the plan follows; unset, the version of
    a pinned ``vllm/vllm-openai`` image in the spec, else the release render pins. ``generation`` 'v0'
    follows the V0 engine's profiling (vLLM ≤ 0.7, for old logs). ``flashinfer_sampler`` says whether FlashInfer's
    top-k/top-p sampler runs (unset: as in the official image of that release; False for installs without it).
    """
    catalog = catalog or default_catalog()
    arch = model or resolve_model(spec.model.planning_name, spec.model.config, catalog)
    cpu_node = gpu is None and is_cpu(spec)
    if cpu_node:
        check_cpu_engine(spec)
    device = gpu or (CPU_DEVICE if cpu_node else resolve_gpu(spec, catalog))
    engine = spec.engine.name.value
    if arch.engines and engine not in arch.engines:
        raise PlanError(
            f"engine {engine} cannot serve {arch.name}",
            f"use one of: {', '.join(arch.engines)} (engine.name in the spec)",
        )
    acct = accounting_for(
        "0.7.0" if generation == "v0" else vllm_version or version_from_image(spec.engine.image),
        flashinfer_sampler,
    )
    result = _Planner(spec, arch, device, catalog, acct).run()
    return on_cpu_node(result) if cpu_node else result
