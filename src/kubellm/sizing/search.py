"""The search: plan every shape, prune by fit and roofline, simulate the promising ones with their
traffic across replicas, and keep the cheapest configuration that meets the SLO.

Order of work, cheapest first: every shape is planned (fit: does it start at all); its roofline bounds
say whether it can ever meet the ITL/TTFT limits and how many replicas it needs at least; shapes are
then simulated in the order of that optimistic cost, each with its engine-limit variants and the fewest
replicas that meet the SLO, until no remaining shape could beat the best one found even at its bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from kubellm.catalog import Catalog, GpuSpec, ModelArch
from kubellm.errors import KubellmError
from kubellm.planning import Plan, plan
from kubellm.planning.suggest import UNKNOWN_USD_PER_GIB_HOUR
from kubellm.sizing.bounds import Bounds, bounds
from kubellm.sizing.candidate import Candidate, SizingResult
from kubellm.sizing.predict import DEFAULT_POLICY, Prediction, simulate
from kubellm.sizing.slo import judge, ms
from kubellm.sizing.space import Shape, shape_spec, shapes, with_limits
from kubellm.sizing.traffic import Traffic
from kubellm.spec import LLMService
from kubellm.spec.service import Slo

MAX_REPLICAS = 64
CHUNK_VARIANTS = (2048, 512)  # smaller prefill chunks trade TTFT for ITL p95
Progress = Callable[[str, int, int], None]


class SizingSearch:
    """One search; :meth:`run` returns every candidate with its verdict."""

    def __init__(
        self,
        base: LLMService,
        model: ModelArch,
        traffic: Traffic,
        slo: Slo,
        gpus: Sequence[GpuSpec],
        *,
        prices: dict[str, float] | None = None,
        quantizations: Sequence[str] = ("none", "fp8"),
        kv_dtypes: Sequence[str] = ("auto", "fp8"),
        budget_usd_hour: float | None = None,
        policy: str = DEFAULT_POLICY,
        seed: int = 0,
        progress: Progress | None = None,
        catalog: Catalog | None = None,
        mig: bool = True,
    ) -> None:
        self.base = base
        self.model = model
        self.traffic = traffic
        self.slo = slo
        self.gpus = list(gpus)
        self.prices = dict(prices or {})
        self.quantizations = quantizations
        self.kv_dtypes = kv_dtypes
        self.budget = budget_usd_hour
        self.policy = policy
        self.seed = seed
        self.progress = progress or (lambda _label, _done, _total: None)
        self.catalog = catalog
        self.mig = mig
        self.max_model_len = max(traffic.longest_request, base.serving.max_model_len or 0)

    # ---- prices -----------------------------------------------------------------------------------
    def gpu_price(self, gpu: GpuSpec) -> tuple[float, bool]:
        """(USD per GPU-hour, estimated?): the --price override, else the catalog, else the planner's
        estimate from memory size."""
        if gpu.name in self.prices:
            return self.prices[gpu.name], False
        if gpu.usd_per_hour is not None:
            return gpu.usd_per_hour, False
        return round(gpu.memory_gib * UNKNOWN_USD_PER_GIB_HOUR, 2), True

    def price_per_gpu(self, shape: Shape) -> float:
        price, _ = self.gpu_price(shape.gpu)
        if shape.mig_profile:
            profile = shape.gpu.mig_profile(shape.mig_profile)
            return price * (profile.compute_slices / 7 if profile else 1.0)
        return price

    # ---- the search -------------------------------------------------------------------------------
    def run(self) -> SizingResult:
        all_shapes = list(shapes(self.model, self.gpus, self.quantizations, self.kv_dtypes, mig=self.mig))
        losers: list[Candidate] = []
        viable: list[tuple[float, Shape, Plan, Bounds]] = []
        for i, shape in enumerate(all_shapes):
            self.progress(f"planning {shape.label}", i, len(all_shapes))
            found = self._plan_shape(shape, losers)
            if found is not None:
                viable.append(found)
        viable.sort(key=lambda item: item[0])
        best_cost = math.inf
        winners: list[Candidate] = []
        for i, (optimistic, shape, the_plan, bound) in enumerate(viable):
            self.progress(f"simulating {shape.label}", i, len(viable))
            if optimistic > best_cost:
                losers.append(self._pruned_by_cost(shape, the_plan, bound, optimistic, best_cost))
                continue
            candidate = self._size(shape, the_plan, bound)
            winners.append(candidate)
            if candidate.meets_slo and candidate.within_budget and candidate.usd_per_hour is not None:
                best_cost = min(best_cost, candidate.usd_per_hour)
        estimated = sorted({g.name for g in self.gpus if self.gpu_price(g)[1]})
        simulated_gpus = {c.shape.gpu.name for c in winners}
        for i, (_, shape, the_plan, bound) in enumerate(viable):
            # every GPU type gets at least its cheapest shape simulated, so the table shows why it lost
            if shape.gpu.name in simulated_gpus:
                continue
            simulated_gpus.add(shape.gpu.name)
            self.progress(f"simulating {shape.label}", i, len(viable))
            losers = [c for c in losers if not (c.shape == shape and c.prediction is None)]
            winners.append(self._size(shape, the_plan, bound))
        self.progress("done", len(viable), len(viable))
        result = SizingResult.ranked(winners + losers, self.slo, self.traffic, self.budget)
        if estimated:
            result.notes.append(
                f"no price known for {', '.join(estimated)}: estimated at ${UNKNOWN_USD_PER_GIB_HOUR}/GiB-hour "
                "(the planner's rule); pass --price GPU=USD for yours"
            )
        return result

    def _plan_shape(self, shape: Shape, losers: list[Candidate]) -> tuple[float, Shape, Plan, Bounds] | None:
        spec = shape_spec(self.base, shape, self.max_model_len)
        try:
            the_plan = plan(spec, self.catalog, model=self.model)
        except KubellmError as exc:
            losers.append(Candidate.rejected(shape, None, f"cannot be planned: {exc}"))
            return None
        if not the_plan.fits:
            fix = f" ({the_plan.suggestion.what})" if the_plan.suggestion else ""
            losers.append(Candidate.rejected(shape, the_plan, f"does not fit{fix}"))
            return None
        if the_plan.kv_cache.tokens < self.traffic.longest_request:
            losers.append(
                Candidate.rejected(
                    shape,
                    the_plan,
                    f"KV cache holds {the_plan.kv_cache.tokens:,} tokens, less than one request",
                )
            )
            return None
        bound = bounds(the_plan, self.traffic, self.slo)
        if bound.max_batch == 0:
            why = f"ITL ≥ {ms(bound.itl_batch1_ms)} ms even at batch 1 > {self.slo.itl_p95_ms:g} (roofline)"
            ratio = bound.itl_batch1_ms / self.slo.itl_p95_ms
            losers.append(Candidate.rejected(shape, the_plan, why, miss_ratio=ratio))
            return None
        if bound.ttft_idle_ms > self.slo.ttft_p95_ms:
            why = (
                f"TTFT ≥ {ms(bound.ttft_idle_ms)} ms on an idle replica > {self.slo.ttft_p95_ms:g} (roofline)"
            )
            ratio = bound.ttft_idle_ms / self.slo.ttft_p95_ms
            losers.append(Candidate.rejected(shape, the_plan, why, miss_ratio=ratio))
            return None
        optimistic = bound.replicas * shape.gpus_per_replica * self.price_per_gpu(shape)
        return optimistic, shape, the_plan, bound

    def _pruned_by_cost(
        self, shape: Shape, the_plan: Plan, bound: Bounds, optimistic: float, best: float
    ) -> Candidate:
        why = f"needs ≥ {bound.replicas} replica(s), ≥ ${optimistic:,.2f}/h by the roofline, above ${best:,.2f}/h"
        return Candidate.rejected(shape, the_plan, why, replicas=bound.replicas, usd_per_hour=optimistic)

    # ---- one shape: engine limits and replicas -------------------------------------------------------
    def _variants(self, the_plan: Plan, bound: Bounds) -> list[tuple[int | None, int | None]]:
        """(max_num_seqs, max_num_batched_tokens) to try: the engine's defaults, then smaller prefill
        chunks (lower ITL p95), each with max_num_seqs capped at the batch that keeps ITL in bounds."""
        default_chunk = the_plan.settings.max_num_batched_tokens
        seqs_cap = 1 << max(0, math.ceil(math.log2(max(1, bound.max_batch))))
        seqs = seqs_cap if seqs_cap < the_plan.settings.max_num_seqs else None
        out: list[tuple[int | None, int | None]] = [(None, None)]
        if seqs is not None:
            out.append((seqs, None))
        for chunk in CHUNK_VARIANTS:
            if chunk < default_chunk:
                out.append((seqs, chunk))
        return out

    def _size(self, shape: Shape, the_plan: Plan, bound: Bounds) -> Candidate:
        spec = the_plan.spec
        best: Candidate | None = None
        for seqs, chunk in self._variants(the_plan, bound):
            try:
                variant_plan = (
                    plan(with_limits(spec, seqs, chunk), self.catalog, model=self.model)
                    if (seqs or chunk)
                    else the_plan
                )
            except KubellmError:
                continue
            if not variant_plan.fits:
                continue
            candidate = self._fewest_replicas(shape, variant_plan, bound.replicas)
            if best is None or candidate.sort_key() < best.sort_key():
                best = candidate
            if best.meets_slo and best.replicas <= bound.replicas:
                break  # the roofline's count already meets the SLO: smaller chunks cannot do better
        assert best is not None
        return best

    def _fewest_replicas(self, shape: Shape, the_plan: Plan, guess: int) -> Candidate:
        """Simulate at the roofline's guess, then walk down while the SLO holds, or up until it does."""
        cache: dict[int, Prediction] = {}

        def run(replicas: int) -> Prediction:
            if replicas not in cache:
                cache[replicas] = simulate(
                    the_plan, self.traffic, replicas=replicas, policy=self.policy, seed=self.seed
                )
            return cache[replicas]

        def meets(replicas: int) -> bool:
            p = run(replicas)
            return judge(self.slo, p.ttft_ms, p.itl_ms).meets

        replicas = max(1, min(guess, MAX_REPLICAS))
        if meets(replicas):
            if replicas > 1 and meets(replicas - 1):  # the guess was generous: bisect down to the fewest
                lo, hi = 0, replicas - 1  # lo misses (0 replicas always does), hi meets
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    lo, hi = (lo, mid) if meets(mid) else (mid, hi)
                replicas = hi
        else:
            step = 1
            while replicas < MAX_REPLICAS and not meets(replicas):
                last = replicas
                replicas = min(MAX_REPLICAS, replicas + step)
                step *= 2
                if meets(replicas):  # bisect back between the last miss and this hit
                    lo, hi = last, replicas
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        lo, hi = (lo, mid) if meets(mid) else (mid, hi)
                    replicas = hi
                    break
        prediction = run(replicas)
        price = self.price_per_gpu(shape)
        return Candidate.simulated(
            shape,
            the_plan,
            replicas,
            prediction,
            judge(self.slo, prediction.ttft_ms, prediction.itl_ms),
            price,
            self.budget,
        )
