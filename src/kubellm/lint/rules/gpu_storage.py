"""GPU rules about memory and storage for weights: host RAM, model cache location, writable caches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubellm.lint.context import LintContext
from kubellm.lint.facts import downloads_model, model_cache_dir
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.gpu import weights_gib
from kubellm.lint.quantity import gib
from kubellm.lint.registry import rule
from kubellm.lint.workload import ContainerView, PodView, as_dict


def _hf_models_in_set(ctx: LintContext) -> list[str]:
    """Hub models that KServe InferenceServices of this set download through the storage initializer."""
    models: list[str] = []
    for pod in ctx.pods:
        if pod.obj.kind != "InferenceService":
            continue
        for c in pod.engines:
            model = c.engine.model if c.engine else None
            if model and model.startswith("hf://"):
                models.append(model)
    return models


@rule(
    "GPU010",
    "host-memory-limit",
    Severity.WARNING,
    "An engine (or model downloader) has no memory limit, or one below the weights it loads",
    why="Weights pass through host RAM while loading (safetensors mmap, one shard per TP worker); without a "
    "limit the node OOM-kills neighbours, with too small a limit the pod is OOMKilled mid-load (`Init:OOMKilled` "
    "for KServe's storage initializer).",
    fix="Set `resources.limits.memory` ≥ the weights each pod loads (model size ÷ TP) plus a few GiB.",
    bad="resources: {limits: {nvidia.com/gpu: 1}}   # 8B model, no memory limit",
    good="resources: {requests: {memory: 24Gi}, limits: {memory: 24Gi, nvidia.com/gpu: 1}}",
    mistakes=("M10",),
    managed=True,
)
def host_memory_limit(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.obj.kind == "ClusterStorageContainer":
        yield from _storage_initializer(pod, ctx)
        return
    if pod.template:
        return  # a runtime template: the InferenceService that uses it sets the resources
    for c in pod.engines:
        if pod.managed and "resources" not in c.data:
            continue
        limit = gib(c.limits.get("memory"))
        if limit is None:
            unset = [what for what, key in (("CPU", "cpu"), ("memory", "memory")) if not c.requests.get(key)]
            also = f" (and no {' or '.join(unset)} request)" if unset else ""
            yield Hit(
                f"{c.engine.engine if c.engine else 'engine'} container {c.name!r} has no memory limit{also}",
                f"{c.path}.resources",
                c.name,
            )
            continue
        size = weights_gib(ctx.catalog, c.engine.model if c.engine else None)
        if size is None or c.engine is None:
            continue
        per_pod = size / max(1, c.engine.gpus_needed // max(1, pod.group_size)) if c.gpu_count else size
        if limit < per_pod:
            yield Hit(
                f"memory limit {limit:.0f} GiB is below the {per_pod:.0f} GiB of weights this pod loads "
                f"({c.engine.model})",
                f"{c.path}.resources.limits.memory",
                c.name,
            )


def _storage_initializer(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    c = pod.containers[0]
    limit = gib(c.limits.get("memory"))
    sizes = [(m, weights_gib(ctx.catalog, m)) for m in _hf_models_in_set(ctx)]
    known = [(m, s) for m, s in sizes if s is not None]
    if limit is None:
        yield Hit("model download container has no memory limit", f"{c.path}.resources", c.name)
    elif known:
        model, size = max(known, key=lambda ms: ms[1])
        if limit < size:
            yield Hit(
                f"storage initializer memory limit {limit:.0f} GiB is below the {size:.0f} GiB model {model} it downloads",
                f"{c.path}.resources.limits.memory",
                c.name,
            )


def _cache_volume(pod: PodView, c: ContainerView) -> tuple[str, dict[str, Any] | None, str | None]:
    """(cache directory, the volume holding it or None for the container FS, mount path)."""
    cache = model_cache_dir(pod, c) or ""
    mount = c.mount_covering(cache)
    if mount is None:
        return cache, None, None
    return cache, pod.volume(str(mount.get("name") or "")), str(mount.get("mountPath"))


def _ephemeral_request(c: ContainerView) -> bool:
    return bool(c.requests.get("ephemeral-storage") or c.limits.get("ephemeral-storage"))


@rule(
    "GPU021",
    "model-cache-unbounded",
    Severity.WARNING,
    "Weights download into the container filesystem or an unbounded emptyDir, with no ephemeral-storage request",
    why="Tens of GB of weights land on the node's disk outside the scheduler's accounting; the kubelet evicts "
    "the pod (`The node was low on resource: ephemeral-storage … request is 0`).",
    fix="Put the model cache on a PVC and point HF_HOME (or --download-dir, OLLAMA_MODELS) into it, or request "
    "`ephemeral-storage` ≥ the model size and give the emptyDir a sizeLimit.",
    bad="env: [{name: HF_HOME, value: /tmp}]   # no volume, no ephemeral-storage request",
    good="env: [{name: HF_HOME, value: /models}]\nvolumeMounts: [{name: models, mountPath: /models}]\n"
    "volumes: [{name: models, persistentVolumeClaim: {claimName: model-cache}}]",
    mistakes=("M23",),
    needs="engine",
)
def model_cache_unbounded(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.engines:
        if not downloads_model(c) or _ephemeral_request(c):
            continue
        cache, volume, _ = _cache_volume(pod, c)
        if pod.template and (cache + "/").startswith(KSERVE_MODEL_DIR + "/"):
            continue  # KServe mounts the InferenceService's storage there (its PVC, or the initializer's volume)
        if volume is None:
            yield Hit(
                f"weights download to {cache} in the container filesystem, with no ephemeral-storage request",
                c.path,
                c.name,
            )
        elif "emptyDir" in volume and not as_dict(volume.get("emptyDir")).get("sizeLimit"):
            yield Hit(
                f"weights download to emptyDir {volume.get('name')!r} without sizeLimit or ephemeral-storage request",
                c.path,
                c.name,
            )


# Where KServe puts an InferenceService's model storage in the runtime's containers: the claim of a pvc://
# storageUri, else the volume the storage initializer downloads into.
KSERVE_MODEL_DIR = "/mnt/models"
REDOWNLOAD_MIN_GIB = 4.0  # weights below this download in about a minute: a cold start, not an outage


def _small(ctx: LintContext, model: str | None) -> bool:
    size = weights_gib(ctx.catalog, model)
    return size is not None and size < REDOWNLOAD_MIN_GIB


@rule(
    "GPU028",
    "model-cache-ephemeral",
    Severity.WARNING,
    "The model cache lives and dies with the pod: every restart downloads the weights again",
    why="A cache on emptyDir, a generic ephemeral volume or the container filesystem is lost on restart, "
    "rollout and rescheduling: cold starts take minutes to hours and hit Hub rate limits. Models under 4 GiB "
    "download in about a minute and are not reported.",
    fix="Use a PersistentVolumeClaim (ReadWriteMany to share between replicas) filled by a prefetch Job, or a "
    "KubeAI cacheProfile.",
    bad="volumes: [{name: models, emptyDir: {sizeLimit: 80Gi}}]   # HF_HOME=/models",
    good="volumes: [{name: models, persistentVolumeClaim: {claimName: model-cache}}]",
    mistakes=("M24",),
    managed=True,
)
def model_cache_ephemeral(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if any(c.engine and _small(ctx, c.engine.model) for c in pod.engines):
        return
    if pod.obj.kind == "Model":
        if not pod.obj.spec.get("cacheProfile"):
            yield Hit("KubeAI Model without cacheProfile: each replica downloads the weights again", "spec")
        return
    if pod.managed:
        return
    for c in pod.engines:
        if not downloads_model(c):
            continue
        cache, volume, _ = _cache_volume(pod, c)
        if volume is None and _ephemeral_request(c):
            yield Hit(
                f"weights are cached in the container filesystem ({cache}) and re-downloaded on every start",
                c.path,
                c.name,
            )
        elif volume is not None and ("emptyDir" in volume or "ephemeral" in volume):
            kind = "emptyDir" if "emptyDir" in volume else "generic ephemeral volume"
            yield Hit(
                f"model cache {cache} is on {kind} {volume.get('name')!r}: re-downloaded on every start",
                c.path,
                c.name,
            )


CACHE_ENV = (
    "HF_HOME",
    "HF_HUB_CACHE",
    "TRITON_CACHE_DIR",
    "TORCHINDUCTOR_CACHE_DIR",
    "XDG_CACHE_HOME",
    "NUMBA_CACHE_DIR",
)


@rule(
    "GPU016",
    "cache-dir-writable",
    Severity.ERROR,
    "The engine's model cache is not writable (a read-only mount, a read-only root or a non-root user)",
    why="HF, torch and Triton write caches under $HOME/.cache by default; with `readOnlyRootFilesystem` or a "
    "non-root UID that directory is not writable: `There was a problem when trying to write in your cache "
    "folder (/.cache/huggingface/hub)`, `Permission denied: '/.cache'`. A Hugging Face cache mounted read-only "
    "(`readOnly: true`, a ConfigMap) fails the same way when the engine still has to download (`OSError: [Errno "
    "30] Read-only file system`); with `HF_HUB_OFFLINE=1` it only reads.",
    fix="Mount a writable emptyDir or PVC and point HF_HOME (and TRITON_CACHE_DIR, TORCHINDUCTOR_CACHE_DIR, "
    "XDG_CACHE_HOME) into it, or set HOME to a writable path.",
    bad="securityContext: {readOnlyRootFilesystem: true}\n# HF_HOME unset, no volume at ~/.cache",
    good="securityContext: {readOnlyRootFilesystem: true}\nenv: [{name: HF_HOME, value: /cache}]\n"
    "volumeMounts: [{name: cache, mountPath: /cache}]",
    mistakes=("M17", "M21"),
    needs="engine",
)
def cache_dir_writable(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    pod_sc = as_dict(pod.spec.get("securityContext"))
    for c in pod.engines:
        cache, volume, _ = _cache_volume(pod, c)
        mount = c.mount_covering(cache)
        read_only_mount = volume is not None and _read_only(volume, mount)
        if (
            read_only_mount
            and downloads_model(c)
            and c.env.get("HF_HUB_OFFLINE") not in ("1", "true", "True")
        ):
            yield Hit(
                f"the model cache {cache} is on a read-only volume ({volume.get('name') if volume else ''}), but the engine "
                "downloads into it",
                f"{c.path}.volumeMounts",
                c.name,
            )
            continue
        sc = c.security
        read_only = sc.get("readOnlyRootFilesystem") is True
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        non_root = isinstance(uid, int) and uid != 0
        if not read_only and not non_root:
            continue
        if volume is None:
            why = "the root filesystem is read-only" if read_only else f"the container runs as UID {uid}"
            yield Hit(
                f"cache directory {cache} is not on a writable volume and {why}",
                f"{c.path}.securityContext",
                c.name,
            )


def _read_only(volume: dict[str, Any], mount: dict[str, Any] | None) -> bool:
    """A mount or volume the container cannot write: readOnly, or a ConfigMap/Secret/projected volume."""
    if mount is not None and mount.get("readOnly") is True:
        return True
    if any(k in volume for k in ("configMap", "secret", "projected", "downwardAPI")):
        return True
    claim = as_dict(volume.get("persistentVolumeClaim"))
    csi = as_dict(volume.get("csi"))
    return claim.get("readOnly") is True or csi.get("readOnly") is True
