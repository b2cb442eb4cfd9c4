"""GPU rules about how the engine process is started and probed: shm, probes, tokens, images, dtype."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from kubellm.engines import TABLES
from kubellm.lint.context import LintContext
from kubellm.lint.facts import (
    NCCL_ENGINES,
    TOKEN_ENV_NAMES,
    downloads_model,
    parse_image,
    probe_budget_s,
    probe_kind,
    probe_path,
    shm_memory_limit_gib,
    shm_volume,
)
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.gpu import weights_gib
from kubellm.lint.registry import rule
from kubellm.lint.workload import ContainerView, PodView, as_dict, as_list

# KServe's huggingfaceserver has no engine table of its own (it serves vLLM behind KServe's protocol).
KSERVE_HF_READY_PATHS = ("/v2/health/ready", "/v1/models", "/health")


def ready_paths(engine: str) -> tuple[str, ...] | None:
    """Paths that answer only once the model is loaded (the engine table's), None when unknown."""
    if engine == "kserve-hf":
        return KSERVE_HF_READY_PATHS
    if engine not in TABLES:
        return None
    readiness = TABLES[engine].readiness  # Ollama has none: '/' answers before any model is loaded
    return (readiness.ready_path, *readiness.ready_paths) if readiness.ready_paths else ()


def listens_when_loaded(engine: str) -> bool:
    """vLLM, SGLang, TGI… open their port only once the engine is built: a TCP check is model-aware."""
    name = "vllm" if engine == "kserve-hf" else engine
    return name in TABLES and not TABLES[name].readiness.listens_before_loaded


LIVENESS_TOLERANCE_S = 60  # consecutive failing seconds before a restart that a busy engine survives
_TOKEN_ARG = re.compile(
    r"--(hf[-_])?token\b|\$\(?\{?(HF_TOKEN|HUGGING_FACE_HUB_TOKEN|HUGGINGFACEHUB_API_TOKEN)\b"
)
SERVING_KINDS = frozenset({"ServingRuntime", "ClusterServingRuntime", "ClusterStorageContainer"})


def _parallel_reason(pod: PodView, c: ContainerView) -> str | None:
    engine = c.engine
    if engine is None or engine.engine not in NCCL_ENGINES:
        return None
    if (engine.tensor_parallel or 1) > 1:
        return f"tensor parallel {engine.tensor_parallel}"
    if (engine.pipeline_parallel or 1) > 1:
        return f"pipeline parallel {engine.pipeline_parallel}"
    if pod.multi_node:
        return f"a {pod.group_size}-pod NCCL group"
    if engine.python_backend:
        return "Triton Python-backend models (pre/post-processing)"
    if c.gpu_count > 1 and engine.engine in ("tgi", "sglang", "triton", "trtllm"):
        return f"{c.gpu_count} GPUs"
    return None


@rule(
    "GPU005",
    "shm-missing",
    Severity.ERROR,
    "A multi-GPU (or Triton Python-backend) engine has no memory-backed /dev/shm",
    why="Containers get a 64 MiB /dev/shm. NCCL (tensor/pipeline parallel, TGI sharding) and Triton's Python "
    "backend need more: `Error while creating shared memory segment /dev/shm/nccl-…`, `Failed to increase the "
    "shared memory pool size`. TP passed through a chart's free-form extraArgs skips the chart's shm volume.",
    fix="Mount `emptyDir: {medium: Memory, sizeLimit: 16Gi}` at /dev/shm in the serving container.",
    bad="args: [--tensor-parallel-size=2]\n# no /dev/shm volume",
    good="volumeMounts: [{name: shm, mountPath: /dev/shm}]\nvolumes: [{name: shm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]",
    mistakes=("M1", "M2", "M27"),
)
def shm_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.spec.get("hostIPC") is True:
        return
    for c in pod.engines:
        reason = _parallel_reason(pod, c)
        if reason is None:
            continue
        volume, _ = shm_volume(pod, c)
        if volume is None:
            yield Hit(
                f"{reason} needs shared memory, but container {c.name!r} has no memory-backed /dev/shm "
                "(default 64 MiB): NCCL fails with 'Error while creating shared memory segment'",
                f"{c.path}.volumeMounts",
                c.name,
            )


@rule(
    "GPU006",
    "shm-no-sizelimit",
    Severity.WARNING,
    "A memory-backed /dev/shm has no sizeLimit in a pod without a memory limit",
    why="A `medium: Memory` emptyDir counts against the pod's memory limit; in a pod without one it is unbounded "
    "without a sizeLimit: a runaway NCCL or dataloader segment can take the node's RAM.",
    fix="Give the /dev/shm emptyDir a `sizeLimit` (NCCL needs a few GiB; 16Gi is ample for 8 GPUs), or give the "
    "containers memory limits.",
    bad="volumes: [{name: shm, emptyDir: {medium: Memory}}]",
    good="volumes: [{name: shm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]",
    mistakes=("M1w",),
)
def shm_no_sizelimit(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    reported: set[int] = set()
    for c in pod.containers:
        volume, index = shm_volume(pod, c)
        if volume is None or index is None or index in reported:
            continue
        reported.add(index)
        # a memory-backed emptyDir is charged to the memory limit of the containers that write to it:
        # with limits on all of them it is bounded already
        if not as_dict(volume.get("emptyDir")).get("sizeLimit") and shm_memory_limit_gib(pod, index) is None:
            yield Hit(
                f"/dev/shm volume {volume.get('name')!r} is memory-backed without a sizeLimit, and a container "
                "that mounts it has no memory limit to charge it to",
                f"{pod.path}.volumes[{index}].emptyDir",
            )


def startup_needed_s(
    ctx: LintContext, c: ContainerView, pod: PodView | None = None
) -> tuple[int, int | None]:
    """(what a probe should allow: the expected start with the planner's margin, or the planner's
    10-minute floor for a model of unknown size; the expected start itself: download when the engine
    fetches its weights + load + engine init, None for a model of unknown size). A multi-node group
    loads its share per pod."""
    from kubellm.planning.resources import (  # the planner's
        STARTUP_FLOOR_S,
        STARTUP_MARGIN,
        download_s,
        load_s,
    )

    engine = c.engine
    size = weights_gib(ctx.catalog, engine.model if engine else None, engine.quantization if engine else None)
    if not size:
        return STARTUP_FLOOR_S, None
    per_pod = size / max(1, pod.group_size if pod else 1) * 2**30
    expected = load_s(per_pod) + (download_s(per_pod) if downloads_model(c) else 0)
    return math.ceil(expected * STARTUP_MARGIN), expected


@rule(
    "GPU007",
    "startup-probe-missing",
    Severity.ERROR,
    "An engine with a liveness probe has no startupProbe long enough for the model to load",
    why="Downloading and loading weights takes minutes to hours; a liveness probe that starts after a fixed "
    "initialDelaySeconds kills the pod mid-load (`KeyboardInterrupt: terminated`, CrashLoopBackOff). It is an "
    "error when the probe allows less than the expected start (download when the engine fetches its weights, "
    "load, engine init), a warning when it allows less than that with the planner's 1.5× margin for slow nodes "
    "and volumes (10 min when the model's size is unknown). (Ollama answers at once and loads models on first "
    "use, so it is not checked.)",
    fix="Add a startupProbe on the engine's health endpoint whose failureThreshold × periodSeconds covers "
    "download + load (≥ 10 min; more for big models), and drop initialDelaySeconds from the liveness probe.",
    bad="livenessProbe: {httpGet: {path: /health, port: 8000}, initialDelaySeconds: 60}",
    good="startupProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 10, failureThreshold: 180}\n"
    "livenessProbe: {httpGet: {path: /health, port: 8000}, timeoutSeconds: 5}",
    mistakes=("M8",),
    needs="engine",
)
def startup_probe_missing(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        if c.engine is not None and c.engine.engine == "ollama":
            continue  # Ollama serves its API within seconds and loads models on first use
        liveness = c.probe("livenessProbe")
        startup = c.probe("startupProbe")
        if startup is not None and probe_kind(startup) != "exec":
            probe, budget, what = "startupProbe", probe_budget_s(startup), "startupProbe allows"
        elif startup is None and liveness is not None:
            probe, budget = "livenessProbe", probe_budget_s(liveness)
            what = "no startupProbe: the livenessProbe kills the container after"
        else:
            continue
        recommended, expected = startup_needed_s(ctx, c, pod)
        if expected is not None and budget < expected:
            yield Hit(
                f"{what} {budget} s; starting this model takes about {expected} s (with the planner's margin "
                f"{recommended} s)",
                f"{c.path}.{probe}",
                c.name,
            )
        elif budget < recommended:
            margin = (
                f"a start takes about {expected} s; the planner's 1.5x margin leaves room for slow nodes and volumes"
                if expected is not None
                else "the model's size is unknown; the planner allows at least that much"
            )
            yield Hit(
                f"{what} {budget} s, less than {recommended} s ({margin})",
                f"{c.path}.{probe}",
                c.name,
                severity=Severity.WARNING,
            )


@rule(
    "GPU008",
    "probe-timeout-too-low",
    Severity.WARNING,
    "An engine's liveness probe restarts it after a few slow answers within a minute",
    why="A saturated engine answers /health late; with the default 1 s timeout three slow answers in 30 s restart "
    "the pod exactly when load is highest. A large failureThreshold (a minute or more of failures) absorbs "
    "that; a readiness failureThreshold of 1 de-registers the pod on every slow answer.",
    fix="Set liveness `timeoutSeconds` ≥ 3 (5 is common) and `failureThreshold` ≥ 3, or let failureThreshold × "
    "periodSeconds cover at least 60 s; readiness `failureThreshold` ≥ 2.",
    bad="livenessProbe: {httpGet: {path: /health, port: 8000}}   # timeoutSeconds defaults to 1",
    good="livenessProbe: {httpGet: {path: /health, port: 8000}, timeoutSeconds: 5, failureThreshold: 3}",
    mistakes=("M9",),
    needs="engine",
)
def probe_timeout_too_low(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        liveness = c.probe("livenessProbe")
        if liveness is not None:
            timeout, failures, period = (_num(liveness, k, d) for k, d in PROBE_DEFAULTS)
            window = failures * period
            if window < LIVENESS_TOLERANCE_S and (timeout < 3 or failures < 3):
                what = f"timeoutSeconds {timeout}" if timeout < 3 else f"failureThreshold {failures}"
                yield Hit(
                    f"livenessProbe {what}: {failures} missed answer(s) in {window} s restart the engine",
                    f"{c.path}.livenessProbe",
                    c.name,
                )
        readiness = c.probe("readinessProbe")
        if readiness is not None and _num(readiness, "failureThreshold", 3) < 2:
            yield Hit(
                f"readinessProbe failureThreshold is {readiness['failureThreshold']}",
                f"{c.path}.readinessProbe",
                c.name,
            )


PROBE_DEFAULTS = (("timeoutSeconds", 1), ("failureThreshold", 3), ("periodSeconds", 10))


def _num(probe: dict[str, object], key: str, default: int) -> int:
    value = probe.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@rule(
    "GPU009",
    "readiness-path",
    Severity.WARNING,
    "The readiness probe can pass before the model is loaded",
    why="A TCP check (or Ollama's `/`) succeeds as soon as the server listens; engines that listen before the "
    "model is loaded (TGI, Triton, NIM, Ray Serve's proxy) then get traffic they cannot answer yet. vLLM and "
    "SGLang open their port only once the engine is built, so a TCP check is model-aware for them; Ollama's `/` "
    "is fine when the pod pulls its model in postStart (probes start after it).",
    fix="Probe the engine's model-aware endpoint: vLLM `/health` or `/v1/models`, TGI `/health`, Triton "
    "`/v2/health/ready`, llama.cpp `/health`; for Ollama check the model in `/api/tags` with an exec probe.",
    bad="readinessProbe: {tcpSocket: {port: 8000}}",
    good="readinessProbe: {httpGet: {path: /health, port: 8000}}",
    mistakes=("M30",),
    needs="engine",
)
def readiness_path(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        probe = c.probe("readinessProbe")
        engine = c.engine
        if probe is None or engine is None:
            continue
        kind = probe_kind(probe)
        if engine.engine == "ollama" and _pulls_in_post_start(c):
            continue  # probes start after postStart has pulled the model; Ollama loads it on first use
        if kind == "tcpSocket":
            if listens_when_loaded(engine.engine):
                continue
            yield Hit(
                "readinessProbe is a TCP check: it passes before the model is loaded",
                f"{c.path}.readinessProbe",
                c.name,
            )
            continue
        path = probe_path(probe)
        good = ready_paths(engine.engine)
        if path is not None and good is not None and path.rstrip("/") not in {p.rstrip("/") for p in good}:
            yield Hit(
                f"readinessProbe path {path!r} does not tell whether the {engine.engine} model is loaded",
                f"{c.path}.readinessProbe.httpGet.path",
                c.name,
            )


def _pulls_in_post_start(c: ContainerView) -> bool:
    hook = as_dict(as_dict(c.data.get("lifecycle")).get("postStart"))
    return "pull" in " ".join(str(t) for t in as_list(as_dict(hook.get("exec")).get("command")))


@rule(
    "GPU011",
    "hf-token-plaintext",
    Severity.ERROR,
    "A Hugging Face token is written in the manifest, a ConfigMap or a command line",
    why="A literal token (or placeholder meant for envsubst) in env, a ConfigMap or args is readable by anyone "
    "who can read the object or `ps` in the pod, and lands in Git and Helm release history.",
    fix="Put the token in a Secret and use `valueFrom.secretKeyRef` (or mount it as a file); never pass it "
    "as `--token $(HF_TOKEN)`.",
    bad="env: [{name: HF_TOKEN, value: hf_abc123}]",
    good="env: [{name: HF_TOKEN, valueFrom: {secretKeyRef: {name: hf-token, key: token}}}]",
    mistakes=("M11",),
    scope="set",
)
def hf_token_plaintext(ctx: LintContext) -> Iterator[Hit]:
    for pod in ctx.pods:
        for c in pod.containers:
            for i, item in enumerate(as_list(c.data.get("env"))):
                if isinstance(item, dict) and str(item.get("name")) in TOKEN_ENV_NAMES and item.get("value"):
                    yield Hit(
                        f"env {item['name']} has a literal value in container {c.name!r}",
                        f"{c.path}.env[{i}].value",
                        c.name,
                        pod.obj,
                        pod=pod,
                    )
            text = " ".join(str(t) for t in [*as_list(c.data.get("command")), *as_list(c.data.get("args"))])
            match = _TOKEN_ARG.search(text)
            if match:
                yield Hit(
                    f"the token is passed on the command line ({match.group(0)!r}) in container {c.name!r}",
                    f"{c.path}.args",
                    c.name,
                    pod.obj,
                    pod=pod,
                )
    for cm in ctx.by_kind("ConfigMap"):
        for key, value in as_dict(cm.data.get("data")).items():
            if str(key) in TOKEN_ENV_NAMES and value:
                yield Hit(
                    f"ConfigMap key {key} holds a token (ConfigMaps are not secret)", f"data.{key}", obj=cm
                )


def _pinned_hit(c: ContainerView, what: str) -> Hit | None:
    ref = parse_image(c.image)
    if not c.image or ref.pinned or ref.placeholder:
        return None
    tag = ref.tag or "none (= latest)"
    return Hit(f"{what} image {c.image!r} is not pinned (tag {tag})", f"{c.path}.image", c.name)


@rule(
    "GPU012",
    "image-unpinned",
    Severity.ERROR,
    "An LLM engine (or model loader) image is untagged or on a moving tag",
    why="`latest`/`nightly` engine images change CUDA, PyTorch and engine versions under you; a new CUDA runtime "
    "on an old node driver fails (`CUDA driver version is insufficient for CUDA runtime version`).",
    fix="Pin a tested tag (`vllm/vllm-openai:v0.10.1.1`) or a digest (`@sha256:…`).",
    bad="image: vllm/vllm-openai:latest",
    good="image: vllm/vllm-openai:v0.10.1.1",
    mistakes=("M12",),
)
def image_unpinned(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        if c.engine is not None or pod.obj.kind in SERVING_KINDS:
            hit = _pinned_hit(c, c.engine.engine if c.engine else "model-serving")
            if hit:
                yield hit


@rule(
    "GPU020",
    "dtype-vs-gpu",
    Severity.ERROR,
    "bfloat16 is asked for on a GPU without bf16 (T4, V100)",
    why="bf16 needs compute capability 8.0 (Ampere): `Bfloat16 is only supported on GPUs with compute "
    "capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5`.",
    fix="Use `--dtype half` (float16) on pre-Ampere GPUs, or select Ampere-or-newer nodes.",
    bad="nodeSelector: {cloud.google.com/gke-accelerator: nvidia-tesla-t4}\nargs: [--dtype=bfloat16]",
    good="nodeSelector: {cloud.google.com/gke-accelerator: nvidia-tesla-t4}\nargs: [--dtype=half]",
    mistakes=("M22",),
    managed=True,
)
def dtype_vs_gpu(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    choice = ctx.gpu_for(pod)
    if choice is None:
        return
    old = [g for g in choice.gpus if not g.supports_bf16]
    if not old:
        return
    for c in pod.engines:
        dtype = (c.engine.dtype or "").lower() if c.engine else ""
        if dtype in ("bfloat16", "bf16"):
            yield Hit(
                f"--dtype {dtype} on {old[0].name} (compute capability {old[0].compute_capability}, from {choice.source})",
                c.path,
                c.name,
            )


@rule(
    "GPU019",
    "service-links-vllm",
    Severity.ERROR,
    "A Service named `vllm` injects VLLM_PORT into vLLM pods",
    why="With `enableServiceLinks` (the default) Kubernetes injects `VLLM_PORT=tcp://10.0.0.1:8000` for a Service "
    "named vllm; vLLM reads VLLM_PORT as its own setting and stops: `VLLM_PORT 'tcp://…' appears to be a URI`.",
    fix="Rename the Service (e.g. `vllm-engine`) or set `enableServiceLinks: false` in the vLLM pods.",
    bad="kind: Service\nmetadata: {name: vllm}",
    good="kind: Service\nmetadata: {name: llama-engine}\n# or enableServiceLinks: false in the pod",
    mistakes=("M20",),
    scope="set",
)
def service_links_vllm(ctx: LintContext) -> Iterator[Hit]:
    services = [s for s in ctx.by_kind("Service") if s.name == "vllm"]
    if not services:
        return
    for pod in ctx.pods:
        if pod.managed or pod.spec.get("enableServiceLinks") is False:
            continue
        if not any(c.engine and c.engine.vllm_like for c in pod.engines):
            continue
        for svc in services:
            if svc.namespace == pod.obj.namespace or not svc.namespace or not pod.obj.namespace:
                yield Hit(
                    f"Service 'vllm' injects VLLM_PORT into {pod.obj.kind} {pod.obj.name!r}, which does not set "
                    "enableServiceLinks: false",
                    pod.path,
                    obj=pod.obj,
                )


@rule(
    "GPU025",
    "graceful-drain",
    Severity.INFO,
    "An LLM engine stops within the default 30 s without draining",
    why="On SIGTERM vLLM stops taking requests and aborts running streams; with 30 s grace and no preStop, "
    "long generations are cut and the load balancer still sends requests during deregistration.",
    fix="Add a `preStop` sleep (≈ load-balancer deregistration time) and set terminationGracePeriodSeconds ≥ "
    "p99 request time + preStop (e.g. 120 s).",
    bad="terminationGracePeriodSeconds: 30   # and no lifecycle.preStop",
    good="terminationGracePeriodSeconds: 120\nlifecycle: {preStop: {sleep: {seconds: 15}}}",
    mistakes=("M29",),
    needs="engine",
)
def graceful_drain(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    grace = pod.spec.get("terminationGracePeriodSeconds", 30)
    if not pod.engines or pod.obj.kind in ("Job", "CronJob") or not isinstance(grace, int) or grace > 30:
        return
    for c in pod.engines:
        if not as_dict(as_dict(c.data.get("lifecycle")).get("preStop")):
            yield Hit(
                f"terminationGracePeriodSeconds is {grace} and {c.name!r} has no preStop hook",
                pod.path,
                c.name,
            )
